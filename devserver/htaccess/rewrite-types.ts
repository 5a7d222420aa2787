/** The compiled form of mod_rewrite directives (https://httpd.apache.org/docs/2.4/mod/mod_rewrite.html). */

export type CondTest =
  | { readonly kind: 'regex'; readonly regex: RegExp }
  | { readonly kind: 'file' | 'dir' | 'size' | 'symlink' | 'exec' }
  | { readonly kind: 'equal' | 'less' | 'greater' | 'lessOrEqual' | 'greaterOrEqual'; readonly value: string }
  | { readonly kind: 'intEq' | 'intNe' | 'intLt' | 'intLe' | 'intGt' | 'intGe'; readonly value: string };

export interface RewriteCond {
  readonly testString: string;
  readonly test: CondTest;
  readonly negate: boolean;
  readonly nocase: boolean;
  readonly ornext: boolean;
  readonly file: string;
  readonly line: number;
}

export interface RewriteRuleFlags {
  readonly last: boolean;
  readonly end: boolean;
  readonly redirect: number | null;
  readonly qsa: boolean;
  readonly qsd: boolean;
  readonly nocase: boolean;
  readonly forbidden: boolean;
  readonly gone: boolean;
  readonly passthrough: boolean;
  readonly noescape: boolean;
  readonly chain: boolean;
  readonly skip: number;
  readonly env: ReadonlyArray<readonly [string, string]>;
}

export interface RewriteRule {
  readonly regex: RegExp;
  readonly negate: boolean;
  /** '-' means "no substitution". */
  readonly substitution: string;
  readonly flags: RewriteRuleFlags;
  readonly conds: readonly RewriteCond[];
  readonly file: string;
  readonly line: number;
}

export interface RewriteConfig {
  /** Site URL path of the directory whose .htaccess holds these rules, with a trailing slash ('/', '/blog/'). */
  readonly directory: string;
  readonly engine: boolean;
  /** RewriteBase, or null (then the directory itself is the base). */
  readonly base: string | null;
  readonly inherit: boolean;
  readonly rules: readonly RewriteRule[];
}

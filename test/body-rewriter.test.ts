/**
 * The chunk-boundary rewriter (devserver/body-transform/text-rewriter.ts) and the two stages built on it
 * (live-reload injection, origin rewrite): every case is fed whole, then split at every byte position into two
 * chunks, then one byte per chunk; the output must be the same every time.
 */
import { describe, expect, test } from 'vitest';
import { StreamRewriter, chainStages, type TextStage } from '../devserver/body-transform/text-rewriter.js';
import { LIVERELOAD_SNIPPET, liveReloadStage } from '../devserver/livereload/inject.js';
import { localCookie, originRules, requestRules } from '../devserver/body-transform/site-origin.js';
import { parseSiteUrl, SiteUrlError } from '../devserver/site-url.js';

const SNIPPET = LIVERELOAD_SNIPPET.toString('latin1');
const SITE = parseSiteUrl('https://www.example.com');
const LOCAL = '127.0.0.1:8080';

function run(make: () => TextStage, chunks: readonly string[]): string {
  const stage = make();
  return chunks.map((c) => stage.push(c)).join('') + stage.end();
}

/** Whole, every two-piece split, and byte by byte. */
function splittings(input: string): string[][] {
  const out: string[][] = [[input]];
  for (let i = 0; i <= input.length; i++) out.push([input.slice(0, i), input.slice(i)]);
  out.push([...input]);
  return out;
}

function expectEverySplit(make: () => TextStage, input: string, expected: string): void {
  for (const chunks of splittings(input)) {
    expect(run(make, chunks), JSON.stringify(chunks)).toBe(expected);
  }
}

const origin = () => new StreamRewriter(originRules(SITE, LOCAL));

describe('live-reload injection at every split point', () => {
  const cases: Array<[string, string, string]> = [
    ['before </body>', '<html><body><p>x</p></body></html>', `<html><body><p>x</p>${SNIPPET}</body></html>`],
    ['upper case tag kept as written', '<HTML><BODY>x</BODY ></HTML>', `<HTML><BODY>x${SNIPPET}</BODY ></HTML>`],
    ['only the first </body>', 'a</body>b</body>', `a${SNIPPET}</body>b</body>`],
    ['before </html> without </body>', '<html><p>x</html>', `<html><p>x${SNIPPET}</html>`],
    ['appended to a fragment', '<p>no body</p>', `<p>no body</p>${SNIPPET}`],
    ['not a tag: </bodyguard>', '<p></bodyguard>', `<p></bodyguard>${SNIPPET}`],
    ['a partial tag at the very end', 'text </bo', `text </bo${SNIPPET}`],
    ['empty body', '', SNIPPET],
    ['non-ASCII bytes untouched', Buffer.from('<p>Grüße €</p></body>', 'utf8').toString('latin1'),
      `${Buffer.from('<p>Grüße €</p>', 'utf8').toString('latin1')}${SNIPPET}</body>`],
  ];
  for (const [name, input, expected] of cases) test(name, () => expectEverySplit(liveReloadStage, input, expected));
});

describe('origin rewrite at every split point', () => {
  const cases: Array<[string, string, string]> = [
    ['https origin', '<a href="https://www.example.com/about/">', `<a href="http://${LOCAL}/about/">`],
    ['http origin', "url('http://www.example.com/x.png')", `url('http://${LOCAL}/x.png')`],
    ['protocol-relative', '<img src="//www.example.com/i.png">', `<img src="//${LOCAL}/i.png">`],
    ['JSON-escaped', '{"home":"https:\\/\\/www.example.com","x":"\\/\\/www.example.com\\/y"}',
      `{"home":"http:\\/\\/${LOCAL}","x":"\\/\\/${LOCAL}\\/y"}`],
    ['percent-encoded', 'redirect_to=https%3A%2F%2Fwww.example.com%2Fwp-admin%2F', 'redirect_to=http%3A%2F%2F127.0.0.1%3A8080%2Fwp-admin%2F'],
    ['lower-case percent-encoding', 'r=https%3a%2f%2fwww.example.com', 'r=http%3A%2F%2F127.0.0.1%3A8080'],
    ['at the very end', 'see https://www.example.com', `see http://${LOCAL}`],
    ['another host is left alone', 'https://www.example.com.au/ https://www.example.community/', 'https://www.example.com.au/ https://www.example.community/'],
    ['a sub-domain is left alone', 'https://cdn.www.example.com/x', `https://cdn.www.example.com/x`],
    ['several in a row', 'https://www.example.com//www.example.com', `http://${LOCAL}//${LOCAL}`],
    ['mixed case host', 'HTTPS://WWW.EXAMPLE.COM/', `http://${LOCAL}/`],
    ['nothing to do', 'plain text with https://other.example/ only', 'plain text with https://other.example/ only'],
  ];
  for (const [name, input, expected] of cases) test(name, () => expectEverySplit(origin, input, expected));

  test('chained with live reload: both apply at every split point', () => {
    const input = '<a href="https://www.example.com/">x</a></body>';
    expectEverySplit(() => chainStages([origin(), liveReloadStage()]), input, `<a href="http://${LOCAL}/">x</a>${SNIPPET}</body>`);
  });
});

describe('request bodies: the local origin back to production at every split point', () => {
  const back = () => new StreamRewriter(requestRules(SITE, LOCAL));
  const cases: Array<[string, string, string]> = [
    ['form field, percent-encoded', 'siteurl=http%3A%2F%2F127.0.0.1%3A8080&x=1', 'siteurl=https%3A%2F%2Fwww.example.com&x=1'],
    ['JSON content', '{"content":"<img src=\\"http:\\/\\/127.0.0.1:8080\\/i.png\\">"}', '{"content":"<img src=\\"https:\\/\\/www.example.com\\/i.png\\">"}'],
    ['plain and protocol-relative', 'http://127.0.0.1:8080/a //127.0.0.1:8080/b', 'https://www.example.com/a //www.example.com/b'],
    ['another port is another origin', 'http://127.0.0.1:80801/ http://127.0.0.1:9090/', 'http://127.0.0.1:80801/ http://127.0.0.1:9090/'],
  ];
  for (const [name, input, expected] of cases) test(name, () => expectEverySplit(back, input, expected));
});

describe('cookies and site URLs', () => {
  const cases: Array<[string, string]> = [
    ['a=1; Path=/; Domain=www.example.com; Secure; HttpOnly', 'a=1; Path=/; HttpOnly'],
    ['a=1; domain=.example.com; secure', 'a=1'],
    ['a=1; Domain=other.test; Secure', 'a=1; Domain=other.test'],
    ['a=1; Secure; SameSite=None', 'a=1; SameSite=Lax'],
    ['a=1; SameSite=None', 'a=1; SameSite=None'],
  ];
  for (const [input, expected] of cases) test(`Set-Cookie ${input}`, () => expect(localCookie(input, SITE)).toBe(expected));

  test('a site URL with a port, and refusals', () => {
    expect(parseSiteUrl('http://shop.test:8443')).toEqual({ origin: 'http://shop.test:8443', https: false, hostname: 'shop.test', host: 'shop.test:8443', port: 8443 });
    expect(parseSiteUrl('https://www.example.com/').port).toBe(443);
    for (const bad of ['www.example.com', 'ftp://x.test', 'https://www.example.com/blog', 'https://u:p@x.test', 'https://x.test/?a=1']) {
      expect(() => parseSiteUrl(bad), bad).toThrow(SiteUrlError);
    }
  });
});

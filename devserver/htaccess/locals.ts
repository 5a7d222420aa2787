/** ctx.locals keys owned by the .htaccess/PHP/CGI middlewares. */
export const HTACCESS_LOCAL = Object.freeze({
  /** The merged DirectoryConfig for the final path. */
  config: 'htaccess.config',
  /** Set once a script (PHP/CGI) answered: AddType must not override the script's own Content-Type. */
  scriptRan: 'cgi.ran',
  /** Set once the Header/AddType response hook is installed for this request. */
  editsInstalled: 'htaccess.editsInstalled',
});

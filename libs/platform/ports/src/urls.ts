/**
 * `url` with the user and password of its authority replaced by `***` (`esdb://admin:changeit@node:2113?tls=true` →
 * `esdb://***@node:2113?tls=true`), for logs and messages: a connection string may carry credentials, and a log line is
 * read by more people than the Secret it came from. The user-information part ends at the last `@` before the query (a
 * password with an unescaped `@` is hidden whole); a string without `scheme://` or without `@` there is returned as it is.
 */
export function withoutCredentials(url: string): string {
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(url);
  if (!scheme) return url;
  const rest = url.slice(scheme[0].length);
  const end = rest.search(/[?#]/);
  const authorityAndPath = end === -1 ? rest : rest.slice(0, end);
  const at = authorityAndPath.lastIndexOf('@');
  return at === -1 ? url : `${scheme[0]}***${rest.slice(at)}`;
}

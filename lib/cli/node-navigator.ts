/**
 * `navigator` on Node 20, as Node 21 and later define it, for the command line's own process.
 *
 * pg asks at load whether it runs in a Cloudflare Worker: by `navigator.userAgent` where there is
 * a navigator, otherwise by making a `Response`. Node 20 has no navigator, and its first look at
 * `Response` loads the whole of fetch (undici): about 35 ms of every command that connects, for a
 * question whose answer is no. With the navigator Node 21 would have, pg asks that instead. A
 * library that tells runtimes apart by navigator sees what it sees on Node 22.
 */
export function defineNodeNavigator(
  global: object = globalThis,
  nodeVersion: string = process.versions.node,
): void {
  if ('navigator' in global && global.navigator !== undefined) return;
  const major = nodeVersion.split('.')[0];
  Object.defineProperty(global, 'navigator', {
    value: { userAgent: `Node.js/${major}` },
    configurable: true,
    enumerable: false,
    writable: true,
  });
}

/**
 * What of the host's file system a sandboxed command sees, all read-only. The sandbox user is mapped
 * to the server's own uid, which is root in most containers: every root-owned file would then look
 * like the sandbox's own. So /etc is never bound whole (it holds /etc/shadow, ssh host keys, database
 * and service configs): only the files programs need to start, resolve names and check certificates.
 */

/** Programs and libraries; where the host has /bin -> usr/bin and friends, the links are recreated instead. */
export const SYSTEM_DIRS = ['/usr', '/bin', '/sbin', '/lib', '/lib32', '/lib64', '/libx32'] as const;

/** Below /etc, bound when present (--ro-bind-try). No credentials, keys or service configuration. */
export const ETC_ENTRIES = [
  'alternatives',
  'bash.bashrc',
  'ca-certificates.conf',
  'debian_version',
  'gai.conf',
  'host.conf',
  'hosts',
  'inputrc',
  'ld.so.cache',
  'ld.so.conf',
  'ld.so.conf.d',
  'locale.alias',
  'localtime',
  'lsb-release',
  'magic',
  'magic.mime',
  'mime.types',
  'networks',
  'nsswitch.conf',
  'os-release',
  'profile',
  'protocols',
  'resolv.conf',
  'services',
  'ssl/certs',
  'ssl/openssl.cnf',
  'timezone',
] as const;

/** The unprivileged identity inside the sandbox (mapped to the server's uid outside). */
export const SANDBOX_UID = 1000;
export const SANDBOX_GID = 1000;
export const SANDBOX_USER = 'sandbox';

/** /etc/passwd and /etc/group of the sandbox: its own user instead of the host's accounts. */
export function identityFiles(home: string): { path: string; content: string }[] {
  // A passwd field cannot hold ':' or a line break; the workspace path comes from the operator's config.
  const safeHome = home.replace(/[:\n]/g, '_');
  return [
    {
      path: '/etc/passwd',
      content:
        'root:x:0:0:root:/root:/usr/sbin/nologin\n' +
        `${SANDBOX_USER}:x:${SANDBOX_UID}:${SANDBOX_GID}:Spacebot worker sandbox:${safeHome}:/bin/bash\n` +
        'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
    },
    { path: '/etc/group', content: `root:x:0:\n${SANDBOX_USER}:x:${SANDBOX_GID}:\nnogroup:x:65534:\n` },
  ];
}

// s3rver in its own process for bench/lfs.js (so its CPU work doesn't stall the benchmark client):
//   node bench/lfs-s3rver.cjs DIR BUCKET  -> prints {"port":N} on stdout once listening.
const fs = require('node:fs');
const path = require('node:path');
const S3rver = require('s3rver');
const [dir, bucket = 'hubgate-bench'] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
server.run().then(
  ({ port }) => {
    // s3rver removes a key's directory once it is empty (a DeleteObject of the last staged upload)
    // and can do so between another PUT's mkdir and its file's creation there: that write stream's
    // ENOENT is not handled and ends the process. A file that is no object (no s3rver suffix, so
    // never listed) keeps hubgate's staging directory (under its key prefix, `lfs/` unless
    // HUBGATE_S3_PREFIX says otherwise) from ever being empty.
    const staging = path.join(dir, bucket, process.env.HUBGATE_S3_PREFIX ?? 'lfs/', 'staging');
    fs.mkdirSync(staging, { recursive: true });
    fs.writeFileSync(path.join(staging, 'keep-this-directory'), '');
    process.stdout.write(`${JSON.stringify({ port })}\n`);
  },
  (e) => {
    console.error(e);
    process.exit(1);
  },
);
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close().finally(() => process.exit(0)));

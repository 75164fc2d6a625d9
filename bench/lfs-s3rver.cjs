// s3rver in its own process for bench/lfs.js (so its CPU work doesn't stall the benchmark client):
//   node bench/lfs-s3rver.cjs DIR BUCKET  -> prints {"port":N} on stdout once listening.
const S3rver = require('s3rver');
const [dir, bucket = 'hubgate-bench'] = process.argv.slice(2);
const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: bucket }] });
server.run().then(({ port }) => process.stdout.write(`${JSON.stringify({ port })}\n`), (e) => { console.error(e); process.exit(1); });
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => server.close().finally(() => process.exit(0)));

// Forwards TCP from LISTEN_HOST:LISTEN_PORT to 127.0.0.1:TARGET_PORT, so that
// containers on the Docker bridge reach an engine that listens on loopback
// only (dynalite, moto) without that engine listening on every interface.
// Usage: node scripts/bridge-forward.js LISTEN_HOST LISTEN_PORT TARGET_PORT
// Prints "forwarding HOST:PORT" once it listens; exits on SIGTERM or SIGINT.
'use strict';
const net = require('net');

const [listenHost, listenPort, targetPort] = process.argv.slice(2);
if (!listenHost || !listenPort || !targetPort) {
  console.error('usage: bridge-forward.js LISTEN_HOST LISTEN_PORT TARGET_PORT');
  process.exit(2);
}

const server = net.createServer((inbound) => {
  const outbound = net.connect({ host: '127.0.0.1', port: Number(targetPort) });
  inbound.pipe(outbound);
  outbound.pipe(inbound);
  // A reset on either side ends both; neither error is worth more than that.
  const end = () => { inbound.destroy(); outbound.destroy(); };
  inbound.on('error', end);
  outbound.on('error', end);
});
server.on('error', (err) => {
  console.error(`bridge-forward: ${listenHost}:${listenPort}: ${err.message}`);
  process.exit(1);
});
server.listen(Number(listenPort), listenHost, () => {
  console.log(`forwarding ${listenHost}:${server.address().port} to 127.0.0.1:${targetPort}`);
});
for (const signal of ['SIGTERM', 'SIGINT']) process.on(signal, () => process.exit(0));

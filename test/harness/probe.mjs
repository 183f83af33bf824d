/**
 * A tiny TCP probe for the host harness's own tests, run inside a host:
 *
 *   node probe.mjs serve PORT            echo server; prints "listening"
 *   node probe.mjs ping HOST PORT MS     one connect + echo; prints {"result":"echoed"|"timeout"|"error","code":...}
 *   node probe.mjs hold HOST PORT        one connection, a line every 100 ms; prints "echo <n> <ms>" per answer
 *                                        and "closed <code>" if the connection ends
 */
import { connect, createServer } from 'node:net';

const [mode, a, b, c] = process.argv.slice(2);
const t0 = Date.now();

if (mode === 'serve') {
  createServer((s) => {
    s.on('data', (d) => s.write(d));
    s.on('error', () => undefined);
  }).listen(Number(a), '0.0.0.0', () => console.log('listening'));
} else if (mode === 'ping') {
  const timer = setTimeout(() => {
    console.log(JSON.stringify({ result: 'timeout' }));
    process.exit(0);
  }, Number(c));
  const s = connect(Number(b), a, () => s.write('x'));
  s.once('data', () => {
    clearTimeout(timer);
    console.log(JSON.stringify({ result: 'echoed', ms: Date.now() - t0 }));
    process.exit(0);
  });
  s.once('error', (err) => {
    clearTimeout(timer);
    console.log(JSON.stringify({ result: 'error', code: err.code }));
    process.exit(0);
  });
} else if (mode === 'hold') {
  let n = 0;
  const s = connect(Number(b), a, () => setInterval(() => s.write(`${n++}\n`), 100));
  let buf = '';
  s.on('data', (d) => {
    buf += d;
    for (let i = buf.indexOf('\n'); i >= 0; i = buf.indexOf('\n')) {
      console.log(`echo ${buf.slice(0, i)} ${Date.now() - t0}`);
      buf = buf.slice(i + 1);
    }
  });
  s.on('error', (err) => console.log(`closed ${err.code}`));
  s.on('close', () => {
    console.log('closed');
    process.exit(0);
  });
}

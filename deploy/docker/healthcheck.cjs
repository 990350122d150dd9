// Container health check: GET http://127.0.0.1:$OPTEX_HTTP_PORT/health, healthy only on 200.
// Plain node:http because the slim base image has no curl or wget.
'use strict';
const http = require('node:http');

const port = Number(process.env.OPTEX_HTTP_PORT || 8080);
const req = http.get({ host: '127.0.0.1', port, path: '/health', timeout: 4000 }, (res) => {
  let body = '';
  res.setEncoding('utf8');
  res.on('data', (chunk) => {
    if (body.length < 2000) body += chunk;
  });
  res.on('end', () => {
    if (res.statusCode === 200) process.exit(0);
    process.stderr.write(`health: HTTP ${res.statusCode} ${body}\n`);
    process.exit(1);
  });
});
req.on('timeout', () => {
  process.stderr.write(`health: no answer from 127.0.0.1:${port} within 4 s\n`);
  req.destroy();
  process.exit(1);
});
req.on('error', (error) => {
  process.stderr.write(`health: ${error.message}\n`);
  process.exit(1);
});

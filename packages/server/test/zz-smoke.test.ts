import { test, expect } from 'vitest';
import WebSocket from 'ws';
import { WebSocketServer } from '@proj/server';

test('echo with ws client', async () => {
  const server = await new WebSocketServer({ port: 0, host: '127.0.0.1', protocols: ['chat'] }).ready();
  server.on('connection', (s) => s.on('message', (d, b) => s.send(d, { binary: b })));
  const port = (server.address() as any).port;
  const ws = new WebSocket(`ws://127.0.0.1:${port}`, ['x', 'chat']);
  await new Promise((r) => ws.once('open', r));
  expect(ws.protocol).toBe('chat');
  const got: any[] = [];
  ws.on('message', (d, b) => got.push([b ? d : d.toString(), b]));
  ws.send('héllo');
  ws.send(Buffer.alloc(70000, 7));
  ws.send('', { fin: false }); ws.send('ab', { fin: false }); ws.send('c');
  await new Promise((r) => setTimeout(r, 200));
  expect(got[0]).toEqual(['héllo', false]);
  expect(got[1][0].length).toBe(70000);
  expect(got[2]).toEqual(['abc', false]);
  const closed = new Promise<any[]>((r) => ws.once('close', (c, reason) => r([c, reason.toString()])));
  await server.close();
  expect(await closed).toEqual([1001, '']);
});

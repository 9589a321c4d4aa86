// What the web UI tests share.

// Rewrites every Socket.IO message from the node to `page` with `tamper` (text to text), on the
// polling transport and on the WebSocket alike: what a man in the middle could do.
export async function tamperInTransit(page, tamper) {
  await page.route(/\/socket\.io\/.*transport=polling/, async (route) => {
    const response = await route.fetch();
    await route.fulfill({ response, body: tamper(await response.text()) });
  });
  await page.routeWebSocket(/\/socket\.io\//, (ws) => {
    const server = ws.connectToServer();
    server.onMessage((message) => ws.send(typeof message === 'string' ? tamper(message) : message));
  });
}

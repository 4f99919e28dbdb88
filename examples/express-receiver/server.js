// An Express webhook receiver for Hookline, done the way the seed asks: answer 200
// right away, then do the work; plus what the seed leaves out: verify the signature on
// the raw body and ignore repeats (delivery is at least once).
import { createDeduplicator } from "@hookline/receiver";
import { verifyExpressWebhook } from "@hookline/receiver/express";
import express from "express";

const secret = process.env.WEBHOOK_SECRET; // the endpoint's whsec_… (or the one `hookline listen` prints)
if (!secret) {
  console.error("Set WEBHOOK_SECRET to the endpoint's signing secret (whsec_…).");
  process.exit(1);
}
const port = Number(process.env.PORT ?? 3000);
const dedup = createDeduplicator();
const app = express();

// No express.json() on this route: the signature covers the raw bytes.
app.post("/webhooks", verifyExpressWebhook(secret), (req, res) => {
  const event = req.webhook;
  // Acknowledge first: anything slow before this would risk a timeout and a retry.
  res.sendStatus(200);
  setImmediate(async () => {
    if (!(await dedup.firstTime(req.headers["webhook-id"]))) {
      console.log(`repeat of ${event.id} ignored`);
      return;
    }
    // Process the event (update your database, notify the customer, …).
    console.log(`processed ${event.type} ${event.id} ${JSON.stringify(event.data)}`);
  });
});

const server = app.listen(port, "127.0.0.1", () => {
  console.log(`listening on http://127.0.0.1:${server.address().port}/webhooks`);
});

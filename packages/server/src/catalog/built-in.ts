import type { EventTypeRecord } from "../store/store.ts";

type BuiltIn = Omit<EventTypeRecord, "createdAt" | "updatedAt">;

const amount = { type: "string", pattern: "^[0-9]+(\\.[0-9]+)?$", description: "decimal, as a string" };
const asset = { type: "string", description: "asset symbol, e.g. BTC, ETH, USDT" };

/**
 * Example event types every installation starts with (a wallet platform's, as in
 * the product brief), so `hookline trigger` and the dashboard's filters work on day
 * one. Operators add their own with `POST /v1/event-types`; one of the same name
 * replaces the built-in one.
 */
export const BUILT_IN_EVENT_TYPES: readonly BuiltIn[] = [
  {
    name: "webhook.test",
    description: "Sent by “Send test event” on an endpoint, to check it is reachable and verifies signatures.",
    schema: { type: "object", properties: { message: { type: "string" } }, required: ["message"] },
    example: { message: "This is a test event from Hookline." },
  },
  {
    name: "transfer.completed",
    description: "A transfer between wallets settled.",
    schema: {
      type: "object",
      properties: {
        transfer_id: { type: "string" },
        amount,
        asset,
        from_wallet: { type: "string" },
        to_address: { type: "string" },
      },
      required: ["transfer_id", "amount", "asset"],
    },
    example: {
      transfer_id: "tr_8f2c1a",
      amount: "0.25",
      asset: "BTC",
      from_wallet: "wal_main",
      to_address: "bc1qxy2kgdygjrsqtzq2n0yrf2493p83kkfjhx0wlh",
    },
  },
  {
    name: "transfer.failed",
    description: "A transfer could not be completed; nothing was moved.",
    schema: {
      type: "object",
      properties: { transfer_id: { type: "string" }, amount, asset, reason: { type: "string" } },
      required: ["transfer_id", "reason"],
    },
    example: { transfer_id: "tr_91d0e4", amount: "1200.00", asset: "USDT", reason: "insufficient_balance" },
  },
  {
    name: "deposit.confirmed",
    description: "An incoming deposit reached the required number of confirmations.",
    schema: {
      type: "object",
      properties: {
        deposit_id: { type: "string" },
        address: { type: "string" },
        amount,
        asset,
        confirmations: { type: "integer", minimum: 0 },
        tx_hash: { type: "string" },
      },
      required: ["deposit_id", "address", "amount", "asset"],
    },
    example: {
      deposit_id: "dep_44aa01",
      address: "0x52908400098527886E0F7030069857D2E4169EE7",
      amount: "3.5",
      asset: "ETH",
      confirmations: 12,
      tx_hash: "0x9fc76417374aa880d4449a1f7f31ec597f00b1f6f3dd2d66f4c9c6c445836d8b",
    },
  },
  {
    name: "withdrawal.requested",
    description: "A withdrawal was requested and awaits approval or broadcast.",
    schema: {
      type: "object",
      properties: { withdrawal_id: { type: "string" }, amount, asset, destination: { type: "string" } },
      required: ["withdrawal_id", "amount", "asset", "destination"],
    },
    example: {
      withdrawal_id: "wd_13b7",
      amount: "500.00",
      asset: "USDC",
      destination: "0x8ba1f109551bD432803012645Ac136ddd64DBA72",
    },
  },
];

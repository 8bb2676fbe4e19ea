// A hand-written batch copy with the AWS SDK for JavaScript v3, as
// bench/fake-run's Node.js peer: the DocumentClient, a parallel Scan (one
// async loop per segment) and BatchWriteCommand of 25 items into the
// target table, CONCURRENCY batches in flight per segment, UnprocessedItems
// resent with backoff. Same work as `ddbmig run --write-mode batch` with
// examples/add-updated-at.lua. (No guard, no resume.)
//
// usage: node peer-batch.mjs SOURCE TARGET SEGMENTS CONCURRENCY ENDPOINT
// The endpoint's certificate is trusted through NODE_EXTRA_CA_CERTS.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, ScanCommand, BatchWriteCommand } from "@aws-sdk/lib-dynamodb";

const [source, target, segments = "16", concurrency = "4", endpoint] = process.argv.slice(2);
const client = new DynamoDBClient({ region: "us-east-1", endpoint, maxAttempts: 10 });
const doc = DynamoDBDocumentClient.from(client, {
  marshallOptions: { removeUndefinedValues: true },
  unmarshallOptions: { wrapNumbers: true }, // or 38-digit numbers are corrupted
});
const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
let scanned = 0, written = 0;

async function writeBatch(items) {
  let requests = items.map((Item) => ({ PutRequest: { Item } }));
  for (let attempt = 0; requests.length > 0; attempt++) {
    if (attempt > 0) await new Promise((r) => setTimeout(r, Math.random() * Math.min(20000, 25 * 2 ** attempt)));
    const out = await doc.send(new BatchWriteCommand({ RequestItems: { [target]: requests } }));
    const left = out.UnprocessedItems?.[target] ?? [];
    written += requests.length - left.length;
    requests = left;
  }
}

async function segment(seg, total) {
  let start;
  do {
    const page = await doc.send(new ScanCommand({ TableName: source, Segment: seg, TotalSegments: total,
                                                  ExclusiveStartKey: start }));
    scanned += page.Items.length;
    for (const it of page.Items) if (it.updatedAt === undefined) it.updatedAt = now;
    const chunks = [];
    for (let i = 0; i < page.Items.length; i += 25) chunks.push(page.Items.slice(i, i + 25));
    let next = 0;
    const lane = async () => { while (next < chunks.length) await writeBatch(chunks[next++]); };
    await Promise.all(Array.from({ length: Number(concurrency) }, lane));
    start = page.LastEvaluatedKey;
  } while (start);
}

const total = Number(segments);
await Promise.all([...Array(total).keys()].map((s) => segment(s, total)));
console.log(JSON.stringify({ scanned, written }));

// The script teams write by hand today, as a baseline: a parallel Scan with
// the AWS SDK for JavaScript v3 and its DocumentClient, and a PutItem of
// each changed item. (It also shows the problems ddbmig exists to fix: no
// guard against concurrent writes, 38-digit numbers need wrapNumbers, no
// resume.) Same work as examples/add-updated-at.lua.
//
// usage: node sdk-script.mjs TABLE SEGMENTS CONCURRENCY
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DynamoDBDocumentClient, ScanCommand, PutCommand } from "@aws-sdk/lib-dynamodb";

const [table, segments = "16", concurrency = "32"] = process.argv.slice(2);
const client = new DynamoDBClient({ maxAttempts: 10 });
const doc = DynamoDBDocumentClient.from(client, {
  marshallOptions: { removeUndefinedValues: true },
  unmarshallOptions: { wrapNumbers: true }, // or 38-digit numbers are corrupted
});
const now = new Date().toISOString().replace(/\.\d+Z$/, "Z");
let scanned = 0, changed = 0;

async function segment(seg, total) {
  let start;
  do {
    const page = await doc.send(new ScanCommand({ TableName: table, Segment: seg, TotalSegments: total,
                                                  ExclusiveStartKey: start }));
    scanned += page.Items.length;
    const todo = page.Items.filter((it) => it.updatedAt === undefined);
    for (let i = 0; i < todo.length; i += Number(concurrency)) {
      await Promise.all(todo.slice(i, i + Number(concurrency)).map((it) => {
        it.updatedAt = now;
        changed++;
        return doc.send(new PutCommand({ TableName: table, Item: it }));
      }));
    }
    start = page.LastEvaluatedKey;
  } while (start);
}

const total = Number(segments);
await Promise.all([...Array(total).keys()].map((s) => segment(s, total)));
console.log(JSON.stringify({ scanned, changed }));

#!/usr/bin/env python3
"""A proxy in front of DynamoDB Local that enforces DynamoDB's capacity rules
and serves Application Auto Scaling itself.

usage: capacity_fake.py UPSTREAM_URL [--updating-describes N] [--no-warm] [--log FILE]
Prints its port as the first line, then serves until killed. DynamoDB
requests (X-Amz-Target DynamoDB_20120810.*) are forwarded to UPSTREAM_URL
unchanged, except UpdateTable, DescribeTable, CreateTable and DeleteTable,
which it checks and overlays; Application Auto Scaling requests
(AnyScaleFrontendService.*) are answered on the same port.

DynamoDB Local takes capacity changes without limits, drops WarmThroughput
and OnDemandThroughput, and has no auto scaling; so tests of code that
raises capacity and later restores it would pass there and fail on AWS.
This fake keeps per-table state in memory (built lazily from the upstream's
DescribeTable) and enforces, on its own clock:
  decreases    a resource (the table, each GSI apart) may lower its
               provisioned read/write capacity 4 times per UTC day, and
               after that once per 3600 s; a read+write decrease in one
               UpdateTable is one decrease. Otherwise LimitExceededException
               and nothing of the UpdateTable is applied. Increases are free.
  on-demand    PROVISIONED -> PAY_PER_REQUEST at most 4 times in a rolling
               24 h; the way back is free but needs ProvisionedThroughput for
               the table and every GSI. ProvisionedThroughput on a
               PAY_PER_REQUEST table or its GSIs is refused.
  UPDATING     after an accepted change of capacity, billing mode, warm or
               on-demand throughput, the next N DescribeTable answers
               (--updating-describes, default 2) say TableStatus UPDATING (and
               IndexStatus UPDATING for the GSIs touched); UpdateTable
               meanwhile is ResourceInUseException.
  warm         WarmThroughput (table and GSIs) is kept here, never lowered:
               a request below the current value is ValidationException.
               It starts at 12000/4000 units per second for on-demand and at
               the provisioned values otherwise, and follows provisioned
               increases up, as AWS's does. --no-warm hides it and forwards
               WarmThroughput requests untouched, as an endpoint without
               warm throughput would.
  max on-demand OnDemandThroughput (table and GSIs) is kept here and shown
               for PAY_PER_REQUEST tables (-1 when never set).
  auto scaling a registered scalable target keeps its resource's capacity
               within [Min, Max] unless the matching DynamicScaling*Suspended
               flag is set: applied after RegisterScalableTarget and on each
               DescribeTable, by an UpdateTable to the upstream that obeys
               (and counts against) the decrease limit like any other.
DescribeTable and UpdateTable answers carry NumberOfDecreasesToday,
LastDecreaseDateTime and LastIncreaseDateTime (for table and GSIs, from
this fake's clock; the zero placeholders DynamoDB Local sends are dropped),
BillingModeSummary.LastUpdateToPayPerRequestDateTime after a switch seen
here, WarmThroughput and OnDemandThroughput. GSIs of PAY_PER_REQUEST tables
show 0/0 capacity, as on AWS.

Application Auto Scaling (JSON 1.1): RegisterScalableTarget,
DescribeScalableTargets, DeregisterScalableTarget, PutScalingPolicy,
DescribeScalingPolicies, DeleteScalingPolicy, for ServiceNamespace dynamodb.

Control endpoints:
  POST /__clock {"advance": S} | {"now": EPOCH}   move the clock; answers {"now": T}
  GET  /__state   per table: decreases (timestamps) per resource, switches
                  to on-demand, warm and on-demand values, UPDATING countdown,
                  scalable targets and policies; and "calls": every
                  capacity request (UpdateTable, *ScalableTarget,
                  *ScalingPolicy) with its body, source (client or
                  autoscaling) and verdict ("accepted" or the error)
  POST /__reset   forget all state, calls and the clock offset
--log FILE gets one JSON line per request: time, op, table, verdict.

What DynamoDB Local (the jar of amplify-dynamodb-simulator 2.9.30) does,
which shaped the above:
  - UpdateTable with GSI ProvisionedThroughput (up or down) is applied at
    once; the table stays ACTIVE, NumberOfDecreasesToday stays 0 and
    Last{In,De}creaseDateTime stay 0.000, however many decreases.
  - A value equal to the current one: ValidationException "The requested
    throughput value equals the current value" (table or GSI).
  - PROVISIONED -> PAY_PER_REQUEST sets the table to 0/0 but leaves the
    GSIs their old capacity; switching again and again is accepted.
    Back to PROVISIONED without table throughput: ValidationException "No
    provisioned throughput specified for the table"; without GSI throughput
    it is accepted, the GSIs keep their old values (0/0 for a table created
    on demand). Giving a GSI the very value it kept is ValidationException
    "The requested throughput value equals the current value", which AWS
    would accept: this fake drops such a GSI update before forwarding.
  - ProvisionedThroughput on a PAY_PER_REQUEST table is accepted and
    ignored (AWS refuses it).
  - An UpdateTable with only WarmThroughput or only OnDemandThroughput:
    ValidationException "Nothing to update"; a GSI Update with only
    WarmThroughput or OnDemandThroughput: ValidationException "No
    provisioned throughput specified for the global secondary index". Along
    with other changes both are silently dropped, as they are in CreateTable.
  - Unknown GSI: ValidationException "Invalid global secondary index name".
  - Errors carry "Message" (capital M) and no x-amz-crc32; validation errors
    are typed com.amazon.coral.validate#ValidationException.
"""
import argparse
import copy
import datetime
import http.client
import http.server
import json
import threading
import time
import zlib

ARGS = None
# One lock for all capacity state: UpdateTable, DescribeTable and the auto
# scaling API are serialized (with their upstream calls) so that a rule is
# checked and applied atomically. Data-plane requests never take it.
LOCK = threading.RLock()
LOCAL = threading.local()
DDB_TARGET = "DynamoDB_20120810."
AAS_TARGET = "AnyScaleFrontendService."
DDB_PREFIX = "com.amazonaws.dynamodb.v20120810#"
VALIDATION = "com.amazon.coral.validate#ValidationException"
DDB_JSON = "application/x-amz-json-1.0"
AAS_JSON = "application/x-amz-json-1.1"
PPR, PROVISIONED = "PAY_PER_REQUEST", "PROVISIONED"
DAY, HOUR = 86400, 3600
FREE_DECREASES, SWITCHES_PER_DAY = 4, 4
ON_DEMAND_WARM = (12000, 4000)
ACCOUNT, REGION = "123456789012", "us-east-1"
TABLE_DIMS = ("dynamodb:table:ReadCapacityUnits", "dynamodb:table:WriteCapacityUnits")
INDEX_DIMS = ("dynamodb:index:ReadCapacityUnits", "dynamodb:index:WriteCapacityUnits")
SUSPENDED = ("DynamicScalingInSuspended", "DynamicScalingOutSuspended", "ScheduledScalingSuspended")
PASS_HEADERS = ("x-amz-target", "content-type", "authorization", "x-amz-date", "x-amz-security-token")

OFFSET = 0.0
TABLES = {}
CALLS = []
SEQ = [0]


def now():
    # Milliseconds, as DynamoDB reports its DateTime fields.
    return round(time.time() + OFFSET, 3)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_day(t):
    return int(t // DAY)


def next_id():
    SEQ[0] += 1
    return "%032x" % SEQ[0]


class Refusal(Exception):
    """An error answer: DynamoDB's shape, or Application Auto Scaling's."""

    def __init__(self, kind, message, aas=False):
        super().__init__(message)
        self.kind, self.message, self.aas = kind, message, aas

    def payload(self):
        if self.aas:
            return json.dumps({"__type": self.kind, "Message": self.message}).encode()
        kind = self.kind if "#" in self.kind else DDB_PREFIX + self.kind
        return json.dumps({"__type": kind, "message": self.message}).encode()

    def verdict(self):
        return "%s: %s" % (self.kind.rsplit("#", 1)[-1], self.message)


def invalid(message):
    return Refusal(VALIDATION, "One or more parameter values were invalid: " + message)


class Resource:
    """The table itself or one GSI: what DynamoDB Local does not keep."""

    def __init__(self, pt, mode):
        self.decreases = []
        self.last_increase = None
        # Warm throughput only grows: provisioned increases and a switch to
        # on-demand lift it, a request may raise it, nothing lowers it.
        self.warm = list(ON_DEMAND_WARM) if mode == PPR else [pt[0], pt[1]]
        self.warm_updating = False
        self.on_demand = [-1, -1]

    def lift_warm(self, read, write):
        self.warm = [max(self.warm[0], read), max(self.warm[1], write)]

    def decreases_today(self, t):
        return sum(1 for d in self.decreases if utc_day(d) == utc_day(t))

    def decrease_refusal(self, t, what):
        n = self.decreases_today(t)
        if n < FREE_DECREASES or t - self.decreases[-1] >= HOUR:
            return None
        last = self.decreases[-1]
        return ("Subscriber limit exceeded: Provisioned throughput decreases are limited within a given UTC day. "
                "After the first %d decreases, each subsequent decrease in the same UTC day can be performed at "
                "most once every %d seconds. Number of decreases today: %d. Last decrease at %s. Next decrease "
                "can be made at %s (%s)" % (FREE_DECREASES, HOUR, n, iso(last), iso(last + HOUR), what))

    def overlay_throughput(self, pt, mode, t):
        pt["NumberOfDecreasesToday"] = self.decreases_today(t)
        pt.pop("LastDecreaseDateTime", None)
        pt.pop("LastIncreaseDateTime", None)
        if self.decreases:
            pt["LastDecreaseDateTime"] = self.decreases[-1]
        if self.last_increase is not None:
            pt["LastIncreaseDateTime"] = self.last_increase
        if mode == PPR:
            pt["ReadCapacityUnits"] = pt["WriteCapacityUnits"] = 0

    def warm_doc(self, updating):
        return {"ReadUnitsPerSecond": self.warm[0], "WriteUnitsPerSecond": self.warm[1],
                "Status": "UPDATING" if updating and self.warm_updating else "ACTIVE"}

    def on_demand_doc(self):
        return {"MaxReadRequestUnits": self.on_demand[0], "MaxWriteRequestUnits": self.on_demand[1]}

    def dump(self):
        return {"decreases": list(self.decreases), "last_increase": self.last_increase,
                "warm": self.warm_doc(True), "on_demand": self.on_demand_doc()}


def billing_mode(td):
    return (td.get("BillingModeSummary") or {}).get("BillingMode", PROVISIONED)


def gsis_of(td):
    return {g["IndexName"]: g for g in td.get("GlobalSecondaryIndexes") or []}


def capacity_of(entry, mode):
    """(read, write) as AWS would report it: 0/0 for anything on demand."""
    if mode == PPR:
        return 0, 0
    pt = entry.get("ProvisionedThroughput") or {}
    return pt.get("ReadCapacityUnits", 0), pt.get("WriteCapacityUnits", 0)


class Table:
    def __init__(self, name):
        self.name = name
        self.table = None
        self.indexes = {}
        self.switches = []
        self.last_to_ppr = None
        self.updating = 0
        self.updating_indexes = set()
        self.targets = {}   # (ResourceId, ScalableDimension) -> target
        self.policies = {}  # (ResourceId, ScalableDimension, PolicyName) -> policy

    def sync(self, td):
        """Meet the table and any GSI not seen before, as upstream has them."""
        mode = billing_mode(td)
        if self.table is None:
            self.table = Resource(capacity_of(td, mode), mode)
        for name, g in gsis_of(td).items():
            if name not in self.indexes:
                self.indexes[name] = Resource(capacity_of(g, mode), mode)

    def res(self, index):
        return self.table if index is None else self.indexes[index]

    def all_resources(self):
        return [self.table] + list(self.indexes.values())

    def dump(self):
        return {"table": self.table.dump() if self.table else None,
                "indexes": {k: v.dump() for k, v in sorted(self.indexes.items())},
                "switches_to_on_demand": list(self.switches), "updating": self.updating,
                "updating_indexes": sorted(self.updating_indexes),
                "scalable_targets": [target_doc(t) for t in self.targets.values()],
                "scaling_policies": list(self.policies.values())}


def table_state(name, td=None):
    t = TABLES.get(name)
    if t is None:
        t = TABLES[name] = Table(name)
    if td is not None:
        t.sync(td)
    return t


def record(op, table, body, verdict, source="client"):
    CALLS.append({"at": now(), "op": op, "table": table, "source": source, "request": body, "verdict": verdict})


def log(entry):
    if ARGS.log:
        with LOCK, open(ARGS.log, "a") as f:
            f.write(json.dumps(dict(entry, at=now())) + "\n")


# --- upstream -------------------------------------------------------------

def upstream():
    conn = getattr(LOCAL, "conn", None)
    if conn is None:
        host, port = ARGS.upstream.split("//")[1].rstrip("/").split(":")
        conn = LOCAL.conn = http.client.HTTPConnection(host, int(port), timeout=60)
    return conn


def forward(headers, body):
    """(status, body, request id) of one POST to the upstream."""
    for attempt in range(2):
        try:
            conn = upstream()
            conn.request("POST", "/", body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read(), r.getheader("x-amzn-RequestId")
        except (http.client.HTTPException, OSError):
            LOCAL.conn = None
            if attempt:
                raise


def ddb_headers(client_headers, op):
    """Headers for a DynamoDB call of our own. The caller's credentials go
    along: DynamoDB Local without -sharedDb keeps a database per key."""
    names = {"authorization": "Authorization", "x-amz-date": "X-Amz-Date",
             "x-amz-security-token": "X-Amz-Security-Token"}
    h = {names[k.lower()]: v for k, v in client_headers.items() if k.lower() in names}
    h.setdefault("Authorization", "AWS4-HMAC-SHA256 Credential=AKIDCAPACITYFAKE/20200101/us-east-1/dynamodb/"
                 "aws4_request, SignedHeaders=host, Signature=0")
    h["X-Amz-Target"] = DDB_TARGET + op
    h["Content-Type"] = DDB_JSON
    return h


def ddb(client_headers, op, doc):
    status, data, _ = forward(ddb_headers(client_headers, op), json.dumps(doc).encode())
    return status, data


def upstream_error(data):
    try:
        doc = json.loads(data)
        return "%s: %s" % (doc.get("__type", "?").rsplit("#", 1)[-1], doc.get("message", doc.get("Message")))
    except ValueError:
        return "unparsable upstream answer"


# --- DynamoDB: overlays and rules -------------------------------------------

def overlay(t, td):
    """Dress an upstream TableDescription in this fake's state."""
    t.sync(td)
    clock = now()
    mode = billing_mode(td)
    if t.updating and td.get("TableStatus") == "ACTIVE":
        td["TableStatus"] = "UPDATING"
    t.table.overlay_throughput(td.setdefault("ProvisionedThroughput", {}), mode, clock)
    if t.last_to_ppr is not None:
        td.setdefault("BillingModeSummary", {"BillingMode": mode})["LastUpdateToPayPerRequestDateTime"] = \
            t.last_to_ppr
    if ARGS.no_warm:
        td.pop("WarmThroughput", None)
    else:
        td["WarmThroughput"] = t.table.warm_doc(t.updating)
    if mode == PPR:
        td["OnDemandThroughput"] = t.table.on_demand_doc()
    else:
        td.pop("OnDemandThroughput", None)
    for name, g in gsis_of(td).items():
        res = t.indexes[name]
        if t.updating and name in t.updating_indexes and g.get("IndexStatus") == "ACTIVE":
            g["IndexStatus"] = "UPDATING"
        res.overlay_throughput(g.setdefault("ProvisionedThroughput", {}), mode, clock)
        if ARGS.no_warm:
            g.pop("WarmThroughput", None)
        else:
            g["WarmThroughput"] = res.warm_doc(t.updating)
        if mode == PPR:
            g["OnDemandThroughput"] = res.on_demand_doc()
        else:
            g.pop("OnDemandThroughput", None)
    return td


def wanted_warm(res, want, what):
    """The warm throughput asked for, refused when below the current one."""
    read = want.get("ReadUnitsPerSecond", res.warm[0])
    write = want.get("WriteUnitsPerSecond", res.warm[1])
    for label, asked, have in (("ReadUnitsPerSecond", read, res.warm[0]), ("WriteUnitsPerSecond", write, res.warm[1])):
        if not isinstance(asked, (int, float)) or asked < have:
            raise invalid("Warm throughput cannot be decreased: requested %s %s for %s is below the current "
                          "value %s" % (label, asked, what, have))
    return read, write


def update_table(doc, headers, source):
    """Check an UpdateTable against the rules, forward what upstream can take,
    apply it to the state. Returns (status, answer bytes, verdict)."""
    name = doc.get("TableName")
    status, data = ddb(headers, "DescribeTable", {"TableName": name})
    if status != 200:
        # Unknown table, bad name: the upstream's answer to the request is the right one.
        status, data, _ = forward(ddb_headers(headers, "UpdateTable"), json.dumps(doc).encode())
        return status, data, "accepted" if status == 200 else "upstream " + upstream_error(data)
    td = json.loads(data)["Table"]
    t = table_state(name, td)
    try:
        plan = plan_update(t, td, doc, source)
    except Refusal as r:
        return 400, r.payload(), r.verdict()
    fwd = plan["forward"]
    if set(fwd) - {"TableName"}:
        status, data, _ = forward(ddb_headers(headers, "UpdateTable"), json.dumps(fwd).encode())
        if status != 200:
            return status, data, "upstream " + upstream_error(data)
        td = json.loads(data)["TableDescription"]
    apply_update(t, plan)
    return 200, json.dumps({"TableDescription": overlay(t, td)}).encode(), "accepted"


def plan_update(t, td, doc, source):
    """What an UpdateTable would change; raises Refusal when a rule says no."""
    name = t.name
    clock = now()
    mode = billing_mode(td)
    new_mode = doc.get("BillingMode") or mode
    gsis = gsis_of(td)
    fwd = copy.deepcopy(doc)
    # Auto scaling is the service's own doing: it waits for nobody here.
    if t.updating and source == "client":
        raise Refusal("ResourceInUseException",
                      "Attempt to change a resource which is still in use: Table is being updated: " + name)
    updates = [u["Update"] for u in fwd.get("GlobalSecondaryIndexUpdates") or [] if isinstance(u.get("Update"), dict)]
    for u in updates:
        if u.get("IndexName") not in gsis:
            raise Refusal(VALIDATION, "Invalid global secondary index name")

    # Capacity asked for, per resource (None is the table).
    capacity = {}
    if "ProvisionedThroughput" in doc:
        capacity[None] = doc["ProvisionedThroughput"]
    for u in updates:
        if "ProvisionedThroughput" in u:
            capacity[u["IndexName"]] = u["ProvisionedThroughput"]
    if new_mode == PPR and capacity:
        which = "the table" if None in capacity else "index: " + next(iter(capacity))
        raise invalid("ProvisionedThroughput cannot be specified for %s when BillingMode is PAY_PER_REQUEST" % which)
    to_provisioned = mode == PPR and new_mode == PROVISIONED
    if to_provisioned:
        if None not in capacity:
            raise Refusal(VALIDATION, "No provisioned throughput specified for the table")
        for index in sorted(gsis):
            if index not in capacity:
                raise invalid("ProvisionedThroughput must be specified for index: " + index)
        # DynamoDB Local kept the GSIs' old capacity through on-demand and
        # refuses that same value as "no change"; upstream already has it.
        for u in updates:
            pt = u.get("ProvisionedThroughput")
            if pt and capacity_of(gsis[u["IndexName"]], PROVISIONED) == (pt.get("ReadCapacityUnits"),
                                                                         pt.get("WriteCapacityUnits")):
                del u["ProvisionedThroughput"]

    decreases, increases = [], []
    for index, pt in capacity.items():
        cur = capacity_of(td if index is None else gsis[index], mode)
        new = (pt.get("ReadCapacityUnits", cur[0]), pt.get("WriteCapacityUnits", cur[1]))
        if not all(isinstance(v, int) for v in new):
            continue  # upstream will refuse it
        if new[0] < cur[0] or new[1] < cur[1]:
            decreases.append(index)
        if new[0] > cur[0] or new[1] > cur[1]:
            increases.append(index)
        capacity[index] = new

    warm, on_demand = {}, {}
    if not ARGS.no_warm and isinstance(doc.get("WarmThroughput"), dict):
        warm[None] = wanted_warm(t.table, doc["WarmThroughput"], "table " + name)
        del fwd["WarmThroughput"]
    if isinstance(doc.get("OnDemandThroughput"), dict):
        on_demand[None] = fwd.pop("OnDemandThroughput")
    for u in updates:
        index = u["IndexName"]
        if not ARGS.no_warm and isinstance(u.get("WarmThroughput"), dict):
            warm[index] = wanted_warm(t.indexes[index], u.pop("WarmThroughput"), "index " + index)
        if isinstance(u.get("OnDemandThroughput"), dict):
            on_demand[index] = u.pop("OnDemandThroughput")
    if "GlobalSecondaryIndexUpdates" in fwd:
        # An Update left with its IndexName alone has nothing for upstream.
        fwd["GlobalSecondaryIndexUpdates"] = [u for u in fwd["GlobalSecondaryIndexUpdates"]
                                              if "Update" not in u or set(u["Update"]) - {"IndexName"}]
        if not fwd["GlobalSecondaryIndexUpdates"]:
            del fwd["GlobalSecondaryIndexUpdates"]

    for index in decreases:
        res = t.res(index)
        why = res.decrease_refusal(clock, "table" if index is None else "index " + index)
        if why:
            raise Refusal("LimitExceededException", why)
    to_ppr = mode == PROVISIONED and new_mode == PPR
    if to_ppr:
        recent = [s for s in t.switches if clock - s < DAY]
        if len(recent) >= SWITCHES_PER_DAY:
            raise Refusal("LimitExceededException",
                          "Subscriber limit exceeded: Update to PayPerRequest mode are limited to %d times within "
                          "24 hours. Number of updates in the last 24 hours: %d. Next update can be made at %s"
                          % (SWITCHES_PER_DAY, len(recent), iso(recent[0] + DAY)))
    touched = set(capacity) | set(warm) | set(on_demand)
    if mode != new_mode:
        touched |= {None} | set(gsis)
    return {"forward": fwd, "clock": clock, "capacity": capacity, "decreases": decreases, "increases": increases,
            "warm": warm, "on_demand": on_demand, "to_ppr": to_ppr, "touched": touched}


def apply_update(t, plan):
    clock = plan["clock"]
    for index in plan["decreases"]:
        t.res(index).decreases.append(clock)
    for index in plan["increases"]:
        t.res(index).last_increase = clock
    for index, (read, write) in plan["capacity"].items():
        t.res(index).lift_warm(read, write)
    if plan["to_ppr"]:
        t.switches.append(clock)
        t.last_to_ppr = clock
        for res in t.all_resources():
            res.lift_warm(*ON_DEMAND_WARM)
    for index, (read, write) in plan["warm"].items():
        res = t.res(index)
        res.lift_warm(read, write)
        res.warm_updating = True
    for index, od in plan["on_demand"].items():
        res = t.res(index)
        res.on_demand = [od.get("MaxReadRequestUnits", res.on_demand[0]),
                         od.get("MaxWriteRequestUnits", res.on_demand[1])]
    if plan["touched"]:
        t.updating = ARGS.updating_describes
        t.updating_indexes |= {i for i in plan["touched"] if i is not None}


def autoscale(t, headers):
    """Bring each resource with a scalable target within [Min, Max]."""
    if not t.targets:
        return
    status, data = ddb(headers, "DescribeTable", {"TableName": t.name})
    if status != 200:
        return
    td = json.loads(data)["Table"]
    if billing_mode(td) == PPR:
        return
    gsis = gsis_of(td)
    wanted = {}
    for (rid, dim), target in sorted(t.targets.items()):
        index = parse_resource(rid)[1]
        if index is not None and index not in gsis:
            continue
        cur = capacity_of(td if index is None else gsis[index], PROVISIONED)
        new = wanted.setdefault(index, list(cur))
        i = 0 if dim.endswith("ReadCapacityUnits") else 1
        flags = target["SuspendedState"]
        if new[i] < target["MinCapacity"] and not flags["DynamicScalingOutSuspended"]:
            new[i] = target["MinCapacity"]
        elif new[i] > target["MaxCapacity"] and not flags["DynamicScalingInSuspended"]:
            new[i] = target["MaxCapacity"]
    for index, (read, write) in sorted(wanted.items(), key=lambda kv: kv[0] or ""):
        if (read, write) == capacity_of(td if index is None else gsis[index], PROVISIONED):
            continue
        pt = {"ReadCapacityUnits": read, "WriteCapacityUnits": write}
        req = {"TableName": t.name}
        if index is None:
            req["ProvisionedThroughput"] = pt
        else:
            req["GlobalSecondaryIndexUpdates"] = [{"Update": {"IndexName": index, "ProvisionedThroughput": pt}}]
        # A refusal (decrease limit) is what AWS's auto scaling meets too: it
        # stays as is and tries again later, here at the next DescribeTable.
        _, _, verdict = update_table(req, headers, "autoscaling")
        record("UpdateTable", t.name, req, verdict, "autoscaling")


# --- Application Auto Scaling ----------------------------------------------

def parse_resource(rid):
    parts = rid.split("/") if isinstance(rid, str) else []
    if len(parts) == 2 and parts[0] == "table" and parts[1]:
        return parts[1], None
    if len(parts) == 4 and parts[0] == "table" and parts[2] == "index" and parts[1] and parts[3]:
        return parts[1], parts[3]
    raise Refusal("ValidationException", "Unsupported resource ID: %r" % (rid,), aas=True)


def check_namespace(doc):
    if doc.get("ServiceNamespace") != "dynamodb":
        raise Refusal("ValidationException", "Unsupported service namespace: %r" % doc.get("ServiceNamespace"),
                      aas=True)


def target_key(doc):
    check_namespace(doc)
    rid, dim = doc.get("ResourceId"), doc.get("ScalableDimension")
    index = parse_resource(rid)[1]
    if dim not in (TABLE_DIMS if index is None else INDEX_DIMS):
        raise Refusal("ValidationException", "Unsupported scalable dimension %r for resource %s" % (dim, rid),
                      aas=True)
    return rid, dim


def target_doc(target):
    return dict(target, SuspendedState=dict(target["SuspendedState"]))


def find_target(key):
    t = TABLES.get(parse_resource(key[0])[0])
    target = t.targets.get(key) if t else None
    if target is None:
        raise Refusal("ObjectNotFoundException", "No scalable target found for service namespace: dynamodb, "
                      "resource ID: %s, scalable dimension: %s" % key, aas=True)
    return t, target


def page(items, doc, field):
    """The slice MaxResults/NextToken ask for (the token is an offset)."""
    start = int(doc.get("NextToken") or 0)
    size = int(doc.get("MaxResults") or 50)
    out = {field: items[start:start + size]}
    if start + size < len(items):
        out["NextToken"] = str(start + size)
    return out


def register_target(doc, headers):
    key = target_key(doc)
    table, index = parse_resource(key[0])
    status, data = ddb(headers, "DescribeTable", {"TableName": table})
    if status != 200 or (index is not None and index not in gsis_of(json.loads(data)["Table"])):
        raise Refusal("ValidationException", "Unable to find DynamoDB resource %s" % key[0], aas=True)
    t = table_state(table, json.loads(data)["Table"])
    target = t.targets.get(key)
    if target is None:
        if "MinCapacity" not in doc or "MaxCapacity" not in doc:
            raise Refusal("ValidationException", "MinCapacity and MaxCapacity are required to register a new "
                          "scalable target", aas=True)
        target = {"ServiceNamespace": "dynamodb", "ResourceId": key[0], "ScalableDimension": key[1],
                  "RoleARN": "arn:aws:iam::%s:role/aws-service-role/dynamodb.application-autoscaling.amazonaws.com/"
                             "AWSServiceRoleForApplicationAutoScaling_DynamoDBTable" % ACCOUNT,
                  "CreationTime": now(), "SuspendedState": {k: False for k in SUSPENDED},
                  "ScalableTargetARN": "arn:aws:application-autoscaling:%s:%s:scalable-target/%s"
                                       % (REGION, ACCOUNT, next_id())}
    new_min = doc.get("MinCapacity", target.get("MinCapacity"))
    new_max = doc.get("MaxCapacity", target.get("MaxCapacity"))
    if not isinstance(new_min, int) or not isinstance(new_max, int) or new_min < 1:
        raise Refusal("ValidationException", "MinCapacity and MaxCapacity must be positive integers", aas=True)
    if new_min > new_max:
        raise Refusal("ValidationException", "Minimum capacity cannot be greater than maximum capacity", aas=True)
    target = dict(target, MinCapacity=new_min, MaxCapacity=new_max, SuspendedState=dict(target["SuspendedState"]))
    if doc.get("RoleARN"):
        target["RoleARN"] = doc["RoleARN"]
    for k, v in (doc.get("SuspendedState") or {}).items():
        if k in SUSPENDED:
            target["SuspendedState"][k] = bool(v)
    t.targets[key] = target
    return {"ScalableTargetARN": target["ScalableTargetARN"]}, t


def describe_targets(doc):
    check_namespace(doc)
    ids = doc.get("ResourceIds")
    dim = doc.get("ScalableDimension")
    found = [target_doc(x) for t in TABLES.values() for x in t.targets.values()
             if (not ids or x["ResourceId"] in ids) and (not dim or x["ScalableDimension"] == dim)]
    found.sort(key=lambda x: (x["CreationTime"], x["ScalableTargetARN"]))
    return page(found, doc, "ScalableTargets")


def put_policy(doc):
    key = target_key(doc)
    t, _ = find_target(key)
    name = doc.get("PolicyName")
    if not isinstance(name, str) or not name:
        raise Refusal("ValidationException", "PolicyName is required", aas=True)
    old = t.policies.get(key + (name,))
    arn = old["PolicyARN"] if old else (
        "arn:aws:autoscaling:%s:%s:scalingPolicy:%s:resource/dynamodb/%s:policyName/%s"
        % (REGION, ACCOUNT, next_id(), key[0], name))
    policy = {"PolicyARN": arn, "PolicyName": name, "ServiceNamespace": "dynamodb", "ResourceId": key[0],
              "ScalableDimension": key[1], "PolicyType": doc.get("PolicyType", "StepScaling"),
              "CreationTime": old["CreationTime"] if old else now()}
    for k in ("TargetTrackingScalingPolicyConfiguration", "StepScalingPolicyConfiguration"):
        if k in doc:
            policy[k] = doc[k]
    t.policies[key + (name,)] = policy
    return {"PolicyARN": arn, "Alarms": []}, t


def describe_policies(doc):
    check_namespace(doc)
    names = doc.get("PolicyNames")
    found = [p for t in TABLES.values() for p in t.policies.values()
             if (not doc.get("ResourceId") or p["ResourceId"] == doc["ResourceId"])
             and (not doc.get("ScalableDimension") or p["ScalableDimension"] == doc["ScalableDimension"])
             and (not names or p["PolicyName"] in names)]
    found.sort(key=lambda p: (p["CreationTime"], p["PolicyARN"]))
    return page(found, doc, "ScalingPolicies")


def delete_policy(doc):
    key = target_key(doc)
    t = TABLES.get(parse_resource(key[0])[0])
    pkey = key + (doc.get("PolicyName"),)
    if not t or pkey not in t.policies:
        raise Refusal("ObjectNotFoundException", "No scaling policy found for service namespace: dynamodb, "
                      "resource ID: %s, scalable dimension: %s, policy name: %s" % pkey, aas=True)
    del t.policies[pkey]
    return {}, t


def deregister_target(doc):
    key = target_key(doc)
    t, _ = find_target(key)
    del t.targets[key]
    # As on AWS, the target's policies go with it.
    for pkey in [p for p in t.policies if p[:2] == key]:
        del t.policies[pkey]
    return {}, t


# --- HTTP ---------------------------------------------------------------------

class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def answer(self, status, data, ctype=DDB_JSON, request_id=None):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        # Recomputed because the body may have been rewritten.
        self.send_header("x-amz-crc32", str(zlib.crc32(data)))
        if request_id:
            self.send_header("x-amzn-RequestId", request_id)
        self.end_headers()
        self.wfile.write(data)

    def control_json(self, doc):
        self.answer(200, json.dumps(doc).encode(), "application/json")

    def do_GET(self):
        if self.path != "/__state":
            return self.answer(404, b"{}", "application/json")
        with LOCK:
            self.control_json({"now": now(), "offset": OFFSET, "tables": {k: v.dump() for k, v in TABLES.items()},
                               "calls": CALLS})

    def control(self, body):
        global OFFSET
        with LOCK:
            if self.path == "/__clock":
                doc = json.loads(body or b"{}")
                if "now" in doc:
                    OFFSET = float(doc["now"]) - time.time()
                OFFSET += float(doc.get("advance", 0))
                return self.control_json({"now": now()})
            if self.path == "/__reset":
                OFFSET = 0.0
                TABLES.clear()
                del CALLS[:]
                return self.control_json({"now": now()})
        self.answer(404, b"{}", "application/json")

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/__"):
            return self.control(body)
        target = self.headers.get("X-Amz-Target", "")
        try:
            if target.startswith(AAS_TARGET):
                return self.autoscaling(target[len(AAS_TARGET):], body)
            return self.dynamodb(target[len(DDB_TARGET):] if target.startswith(DDB_TARGET) else target, body)
        except Exception as e:  # a bug here should reach the test as an answer, not a dropped connection
            log({"op": target, "verdict": "fake error: %r" % e})
            self.answer(500, json.dumps({"__type": DDB_PREFIX + "InternalServerError",
                                         "message": "capacity fake: %r" % e}).encode())

    def dynamodb(self, op, body):
        headers = {k: v for k, v in self.headers.items() if k.lower() in PASS_HEADERS}
        if op not in ("UpdateTable", "DescribeTable", "CreateTable", "DeleteTable"):
            status, data, rid = forward(headers, body)
            log({"op": op, "verdict": "forwarded", "status": status})
            return self.answer(status, data, DDB_JSON, rid)
        doc = json.loads(body or b"{}")
        name = doc.get("TableName")
        rid = None
        with LOCK:
            if op == "UpdateTable":
                status, data, verdict = update_table(doc, headers, "client")
                record(op, name, doc, verdict)
            else:
                status, data, rid = forward(headers, body)
                verdict = "forwarded" if status == 200 else "upstream " + upstream_error(data)
                if status == 200 and op == "DescribeTable":
                    data = self.described(name, headers, json.loads(data))
                elif status == 200 and op == "CreateTable":
                    data = self.created(doc, json.loads(data))
                elif status == 200 and op == "DeleteTable":
                    TABLES.pop(name, None)
        log({"op": op, "table": name, "verdict": verdict, "status": status})
        self.answer(status, data, DDB_JSON, rid)

    def described(self, name, headers, answer):
        t = table_state(name, answer["Table"])
        if t.targets:
            autoscale(t, headers)
            status, data = ddb(headers, "DescribeTable", {"TableName": name})
            if status == 200:
                answer = json.loads(data)
        overlay(t, answer["Table"])
        # The answer just built showed the status; count it down afterwards.
        if t.updating:
            t.updating -= 1
            if not t.updating:
                t.updating_indexes.clear()
                for res in t.all_resources():
                    res.warm_updating = False
        return json.dumps(answer).encode()

    def created(self, doc, answer):
        td = answer["TableDescription"]
        # A new table of an old name starts afresh; what CreateTable asked for
        # and DynamoDB Local dropped is kept here.
        TABLES.pop(td["TableName"], None)
        t = table_state(td["TableName"], td)
        entries = [(None, doc)] + [(g.get("IndexName"), g) for g in doc.get("GlobalSecondaryIndexes") or []]
        for index, entry in entries:
            if index is not None and index not in t.indexes:
                continue
            res = t.res(index)
            warm = entry.get("WarmThroughput") or {}
            res.lift_warm(warm.get("ReadUnitsPerSecond", 0), warm.get("WriteUnitsPerSecond", 0))
            od = entry.get("OnDemandThroughput") or {}
            res.on_demand = [od.get("MaxReadRequestUnits", -1), od.get("MaxWriteRequestUnits", -1)]
        overlay(t, td)
        return json.dumps(answer).encode()

    def autoscaling(self, op, body):
        ops = {"RegisterScalableTarget", "DescribeScalableTargets", "DeregisterScalableTarget",
               "PutScalingPolicy", "DescribeScalingPolicies", "DeleteScalingPolicy"}
        doc = {}
        with LOCK:
            try:
                if op not in ops:
                    raise Refusal("UnknownOperationException", "Unknown operation " + op, aas=True)
                doc = json.loads(body or b"{}")
                if op == "RegisterScalableTarget":
                    out, t = register_target(doc, self.headers)
                    record(op, t.name, doc, "accepted")
                    autoscale(t, self.headers)
                elif op == "DescribeScalableTargets":
                    out = describe_targets(doc)
                elif op == "DescribeScalingPolicies":
                    out = describe_policies(doc)
                else:
                    out, t = {"DeregisterScalableTarget": deregister_target, "PutScalingPolicy": put_policy,
                              "DeleteScalingPolicy": delete_policy}[op](doc)
                    record(op, t.name, doc, "accepted")
                status, data, verdict = 200, json.dumps(out).encode(), "accepted"
            except Refusal as r:
                status, data, verdict = 400, r.payload(), r.verdict()
                if op in ops and not op.startswith("Describe"):
                    try:
                        table = parse_resource(doc.get("ResourceId"))[0]
                    except Refusal:
                        table = None
                    record(op, table, doc, verdict)
        log({"op": op, "verdict": verdict, "status": status})
        self.answer(status, data, AAS_JSON)


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("upstream")
    p.add_argument("--updating-describes", type=int, default=2)
    p.add_argument("--no-warm", action="store_true")
    p.add_argument("--log")
    ARGS = p.parse_args()
    server = Server(("127.0.0.1", 0), Proxy)
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

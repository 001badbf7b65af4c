// workers: a Node.js service starting a worker thread per item, each blocked forever on a
// shared buffer nobody will notify (the bug: a worker waiting for a result never posted).
//
//   node --perf-basic-prof --interpreted-frames-native-stack workers.js [COUNT]
//
// Prints "spawned N" once the COUNT workers (default 5) are running and blocked, then idles
// until killed. Its JavaScript functions are JIT code: named only by the perf map V8 writes
// (/tmp/perf-PID.map) under those two flags.
"use strict";
const { Worker } = require("worker_threads");

const BLOCK = "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)";

function startWorker(onReady) {
  const w = new Worker(BLOCK + ";", { eval: true }); // SITE: nodeleak
  w.on("online", onReady);
  return w;
}

function handleItems(n) {
  let online = 0;
  const ready = () => {
    if (++online === n) console.log("spawned " + n);
  };
  for (let i = 0; i < n; i++) startWorker(ready); // SITE: nodeitems
}

handleItems(parseInt(process.argv[2] || "5", 10));
setInterval(() => {}, 1 << 30);

#!/usr/bin/env node
// Validates Kubernetes objects independently of wb's own code.
//
// Usage: validate.js [FILE]      (reads stdin when FILE is missing or "-")
// Input: a JSON object, a JSON List ({"kind": "List", "items": [...]}), or a YAML stream of
// documents separated by `---`. Each object is checked with the kubernetes-models class for its
// apiVersion/kind (OpenAPI schema: types, required fields, enums, formats) and then with a few
// rules the schema cannot express but the API server enforces (names, labels, selector vs
// template labels, port names, quantities, volume references, duplicate env names).
// Prints one line per problem ("Deployment/orders: /spec/replicas must be integer") and exits 1
// when there is any; prints "ok: N objects" and exits 0 otherwise. Exit 2 on unreadable input.
//
// Note: kubernetes-models' schemas do not reject unknown fields, so a misspelt optional field
// passes here; the API server (and `kubectl apply --dry-run=server`) would drop or reject it.
"use strict";

const fs = require("fs");
const path = require("path");
const yaml = require("js-yaml");

// apiVersion -> module of kubernetes-models ("apps/v1" -> "kubernetes-models/apps/v1").
function modelClass(apiVersion, kind) {
  if (typeof apiVersion !== "string" || typeof kind !== "string") return null;
  if (!/^[a-z0-9.-]*\/?v[0-9a-z]+$/.test(apiVersion)) return null;
  let mod;
  try {
    mod = require("kubernetes-models/" + apiVersion);
  } catch (e) {
    return null;
  }
  return Object.prototype.hasOwnProperty.call(mod, kind) ? mod[kind] : null;
}

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
// k8s.io/apimachinery/pkg/api/resource: <signedNumber><suffix>
const QUANTITY = /^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)(([KMGTPE]i)|[numkMGTPE]|[eE][+-]?[0-9]+)?$/;

function checkQualifiedName(key, where, problems) {
  const parts = key.split("/");
  if (parts.length > 2) return problems.push(`${where}: '${key}' has more than one '/'`);
  const name = parts[parts.length - 1];
  if (parts.length === 2 && (parts[0].length > 253 || !DNS1123_SUBDOMAIN.test(parts[0])))
    problems.push(`${where}: prefix of '${key}' is not a DNS subdomain`);
  if (name.length > 63 || !LABEL_NAME.test(name)) problems.push(`${where}: '${key}' is not a valid label/annotation name`);
}

function checkMetadata(meta, where, problems, { nameRule = DNS1123_SUBDOMAIN } = {}) {
  if (!meta || typeof meta !== "object") return problems.push(`${where}/metadata: missing`);
  if (meta.name !== undefined && !nameRule.test(meta.name))
    problems.push(`${where}/metadata/name: '${meta.name}' is not a valid name`);
  if (meta.namespace !== undefined && !DNS1123_LABEL.test(meta.namespace))
    problems.push(`${where}/metadata/namespace: '${meta.namespace}' is not a valid namespace`);
  for (const [k, v] of Object.entries(meta.labels || {})) {
    checkQualifiedName(k, `${where}/metadata/labels`, problems);
    if (typeof v !== "string" || v.length > 63 || !LABEL_VALUE.test(v))
      problems.push(`${where}/metadata/labels/${k}: '${v}' is not a valid label value`);
  }
  for (const k of Object.keys(meta.annotations || {})) checkQualifiedName(k, `${where}/metadata/annotations`, problems);
}

function checkResources(res, where, problems) {
  for (const part of ["limits", "requests"])
    for (const [k, v] of Object.entries((res && res[part]) || {}))
      if (typeof v !== "string" || !QUANTITY.test(v))
        problems.push(`${where}/resources/${part}/${k}: '${v}' is not a Kubernetes quantity`);
}

function checkPodSpec(spec, where, problems) {
  if (!spec) return;
  const volumes = new Set((spec.volumes || []).map((v) => v.name));
  const containers = [...(spec.initContainers || []), ...(spec.containers || [])];
  const names = new Set();
  containers.forEach((c, i) => {
    const cw = `${where}/containers/${i}`;
    if (names.has(c.name)) problems.push(`${cw}/name: duplicate container name '${c.name}'`);
    names.add(c.name);
    if (c.name !== undefined && !DNS1123_LABEL.test(c.name)) problems.push(`${cw}/name: '${c.name}' is not a DNS label`);
    if (!c.image) problems.push(`${cw}/image: a container needs an image`);
    const portNames = new Set();
    (c.ports || []).forEach((p, j) => {
      if (p.containerPort < 1 || p.containerPort > 65535) problems.push(`${cw}/ports/${j}/containerPort: out of range`);
      if (p.name !== undefined) {
        if (p.name.length > 15 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(p.name) || !/[a-z]/.test(p.name))
          problems.push(`${cw}/ports/${j}/name: '${p.name}' is not an IANA service name (<= 15 chars)`);
        portNames.add(p.name);
      }
    });
    const envNames = new Set();
    (c.env || []).forEach((e, j) => {
      if (!ENV_NAME.test(e.name || "")) problems.push(`${cw}/env/${j}/name: '${e.name}' is not a valid variable name`);
      if (envNames.has(e.name)) problems.push(`${cw}/env/${j}/name: duplicate variable '${e.name}'`);
      envNames.add(e.name);
    });
    (c.volumeMounts || []).forEach((m, j) => {
      if (!volumes.has(m.name)) problems.push(`${cw}/volumeMounts/${j}: no volume named '${m.name}'`);
    });
    checkResources(c.resources, cw, problems);
    const lim = (c.resources && c.resources.limits) || {};
    const req = (c.resources && c.resources.requests) || {};
    for (const k of Object.keys(req))
      if (lim[k] !== undefined && toNumber(req[k]) > toNumber(lim[k]))
        problems.push(`${cw}/resources/requests/${k}: request ${req[k]} is above the limit ${lim[k]}`);
    for (const probe of ["readinessProbe", "livenessProbe", "startupProbe"]) {
      const p = c[probe];
      if (!p) continue;
      const handlers = ["exec", "httpGet", "tcpSocket", "grpc"].filter((h) => p[h]);
      if (handlers.length !== 1) problems.push(`${cw}/${probe}: needs exactly one handler, has ${handlers.length}`);
      const port = (p.httpGet || p.tcpSocket || {}).port;
      if (typeof port === "string" && !portNames.has(port))
        problems.push(`${cw}/${probe}: port '${port}' is not a named port of the container`);
      if (p.httpGet && p.httpGet.path !== undefined && !String(p.httpGet.path).startsWith("/"))
        problems.push(`${cw}/${probe}/httpGet/path: must start with '/'`);
    }
    const pre = c.lifecycle && c.lifecycle.preStop;
    if (pre && pre.exec && !(pre.exec.command || []).length) problems.push(`${cw}/lifecycle/preStop/exec: empty command`);
  });
  const vnames = new Set();
  (spec.volumes || []).forEach((v, i) => {
    if (vnames.has(v.name)) problems.push(`${where}/volumes/${i}: duplicate volume '${v.name}'`);
    vnames.add(v.name);
  });
  for (const s of spec.imagePullSecrets || [])
    if (!DNS1123_SUBDOMAIN.test(s.name || "")) problems.push(`${where}/imagePullSecrets: '${s.name}' is not a valid name`);
}

function toNumber(q) {
  const m = String(q).match(/^([+-]?[0-9.]+)(.*)$/);
  if (!m) return NaN;
  const mult = { "": 1, n: 1e-9, u: 1e-6, m: 1e-3, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18,
    Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
  if (mult[m[2]] !== undefined) return parseFloat(m[1]) * mult[m[2]];
  const e = m[2].match(/^[eE]([+-]?[0-9]+)$/);
  return e ? parseFloat(m[1]) * 10 ** parseInt(e[1], 10) : NaN;
}

function matches(selector, labels) {
  return Object.entries(selector || {}).every(([k, v]) => labels && labels[k] === v);
}

// Rules beyond the schema, per kind.
function semanticChecks(obj, where, problems) {
  const kind = obj.kind;
  checkMetadata(obj.metadata, where, problems, { nameRule: kind === "Service" ? DNS1035_LABEL : DNS1123_SUBDOMAIN });
  if (kind === "Deployment") {
    const spec = obj.spec || {};
    const sel = (spec.selector && spec.selector.matchLabels) || {};
    const tpl = (spec.template && spec.template.metadata && spec.template.metadata.labels) || {};
    if (!Object.keys(sel).length && !(spec.selector && spec.selector.matchExpressions))
      problems.push(`${where}/spec/selector: empty selector`);
    if (!matches(sel, tpl)) problems.push(`${where}/spec/selector: does not match the pod template's labels`);
    checkMetadata(spec.template && spec.template.metadata, `${where}/spec/template`, problems);
    checkPodSpec(spec.template && spec.template.spec, `${where}/spec/template/spec`, problems);
    const ru = spec.strategy && spec.strategy.rollingUpdate;
    if (ru && (ru.maxSurge === 0 || ru.maxSurge === "0%") && (ru.maxUnavailable === 0 || ru.maxUnavailable === "0%"))
      problems.push(`${where}/spec/strategy/rollingUpdate: maxSurge and maxUnavailable may not both be 0`);
  }
  if (kind === "Service") {
    const spec = obj.spec || {};
    const names = new Set();
    (spec.ports || []).forEach((p, i) => {
      if ((spec.ports.length > 1 || p.name !== undefined) && names.has(p.name))
        problems.push(`${where}/spec/ports/${i}/name: duplicate port name`);
      names.add(p.name);
      if (p.port < 1 || p.port > 65535) problems.push(`${where}/spec/ports/${i}/port: out of range`);
    });
  }
}

function describe(obj, index) {
  const kind = (obj && obj.kind) || "object";
  const name = (obj && obj.metadata && obj.metadata.name) || `#${index}`;
  return `${kind}/${name}`;
}

// Problems of one object, each "Kind/name: /json/path: what is wrong".
function validateObject(obj, index) {
  const problems = [];
  const where = describe(obj, index);
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) return [`${where}: /: not an object`];
  const Model = modelClass(obj.apiVersion, obj.kind);
  if (!Model) return [`${where}: /: unknown apiVersion/kind '${obj.apiVersion}' '${obj.kind}'`];
  try {
    new Model(obj).validate();
  } catch (e) {
    if (Array.isArray(e.errors)) {
      for (const err of e.errors) {
        const extra = err.params && err.params.allowedValues ? ` (${err.params.allowedValues.join(", ")})` : "";
        problems.push(`${err.instancePath || "/"}: ${err.message}${extra}`);
      }
    } else {
      problems.push(`/: ${e.message}`);
    }
  }
  semanticChecks(obj, "", problems);
  return problems.map((p) => `${where}: ${p}`);
}

function parseInput(text) {
  const trimmed = text.trim();
  let docs;
  if (trimmed.startsWith("{") || trimmed.startsWith("[")) {
    docs = [JSON.parse(trimmed)];
  } else {
    docs = yaml.loadAll(text).filter((d) => d !== null && d !== undefined);
  }
  const out = [];
  for (const d of docs) {
    if (Array.isArray(d)) out.push(...d);
    else if (d && typeof d === "object" && typeof d.kind === "string" && d.kind.endsWith("List") && Array.isArray(d.items))
      out.push(...d.items);
    else out.push(d);
  }
  return out;
}

function main(argv) {
  const file = argv[2];
  let text;
  try {
    text = !file || file === "-" ? fs.readFileSync(0, "utf8") : fs.readFileSync(path.resolve(file), "utf8");
  } catch (e) {
    process.stderr.write(`validate: cannot read ${file || "stdin"}: ${e.message}\n`);
    return 2;
  }
  let objects;
  try {
    objects = parseInput(text);
  } catch (e) {
    process.stderr.write(`validate: input is neither JSON nor a YAML stream: ${e.message.split("\n")[0]}\n`);
    return 2;
  }
  if (!objects.length) {
    process.stderr.write("validate: no objects in the input\n");
    return 1;
  }
  const problems = objects.flatMap((o, i) => validateObject(o, i));
  for (const p of problems) process.stdout.write(p + "\n");
  if (problems.length) return 1;
  process.stdout.write(`ok: ${objects.length} objects\n`);
  return 0;
}

if (require.main === module) process.exitCode = main(process.argv);
module.exports = { validateObject, parseInput };

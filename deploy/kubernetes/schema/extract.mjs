// Writes k8s-models.json: the fields and types of the Kubernetes API objects that istar's
// manifests use (Deployment, Service, Secret, PersistentVolumeClaim, Job and the pod template
// inside an MPIJob), with every type they reach, read from the OpenAPI-generated models of the
// official JavaScript client, @kubernetes/client-node (Apache-2.0, LICENSE beside this file).
// validate.py checks the manifests against it, offline.
//
//   npm install --ignore-scripts @kubernetes/client-node@1.4.0   (in a scratch folder)
//   node extract.mjs SCRATCH/node_modules/@kubernetes/client-node > k8s-models.json
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";

const root = process.argv[2];
const pkg = JSON.parse(readFileSync(`${root}/package.json`, "utf8"));
const roots = ["V1Deployment", "V1Service", "V1Secret", "V1PersistentVolumeClaim", "V1Job",
               "V1PodTemplateSpec"];
const models = {};
const pending = [...roots];
while (pending.length > 0) {
  const name = pending.pop();
  if (name in models) continue;
  const module = await import(pathToFileURL(`${root}/dist/gen/models/${name}.js`).href);
  const fields = {};
  for (const a of module[name].attributeTypeMap) {
    fields[a.baseName] = a.type;
    for (const t of a.type.match(/V[0-9][A-Za-z0-9]*|Core[A-Za-z0-9]*/g) ?? []) pending.push(t);
  }
  models[name] = fields;
}
const sorted = Object.fromEntries(Object.keys(models).sort().map((k) => [k, models[k]]));
process.stdout.write(JSON.stringify({ source: `${pkg.name}@${pkg.version}`, models: sorted },
                                    null, 1) + "\n");

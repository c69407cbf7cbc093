#!/usr/bin/env python3
"""Checks istar's Kubernetes manifests offline, without a cluster.

Every field of every object is checked against the API's own types: those of Kubernetes from the
OpenAPI-generated models of the official JavaScript client (schema/k8s-models.json, made by
schema/extract.mjs), those of the MPI Operator's MPIJob (kubeflow.org/v2beta1) from its Go types,
written out below. Then what istar needs of them: one coordinator replica replaced with
`Recreate` (one SQLite writer), a Service that selects it on a port it has, volumes, claims and
secrets that exist, no token on a command line. Exit 1 with one line per problem.

    python3 deploy/kubernetes/validate.py [FOLDER]      # default: the folder of this script
"""
import json
import os
import re
import sys

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = json.load(open(os.path.join(HERE, "schema", "k8s-models.json")))["models"]
# kubeflow/mpi-operator, pkg/apis/kubeflow/v2beta1/types.go: MPIJob, MPIJobSpec, RunPolicy,
# ReplicaSpec (the field names and types; the pod template is Kubernetes' own).
MODELS.update({
    "MPIJob": {"apiVersion": "string", "kind": "string", "metadata": "V1ObjectMeta",
               "spec": "MPIJobSpec", "status": "any"},
    "MPIJobSpec": {"slotsPerWorker": "number", "runLauncherAsWorker": "boolean",
                   "runPolicy": "MPIRunPolicy",
                   "mpiReplicaSpecs": "{ [key: string]: MPIReplicaSpec; }",
                   "sshAuthMountPath": "string", "launcherCreationPolicy": "string",
                   "mpiImplementation": "string"},
    "MPIRunPolicy": {"cleanPodPolicy": "string", "ttlSecondsAfterFinished": "number",
                     "activeDeadlineSeconds": "number", "backoffLimit": "number",
                     "schedulingPolicy": "any", "suspend": "boolean", "managedBy": "string"},
    "MPIReplicaSpec": {"replicas": "number", "template": "V1PodTemplateSpec",
                       "restartPolicy": "string"},
})
KINDS = {("apps/v1", "Deployment"): "V1Deployment", ("v1", "Service"): "V1Service",
         ("v1", "Secret"): "V1Secret", ("v1", "PersistentVolumeClaim"): "V1PersistentVolumeClaim",
         ("batch/v1", "Job"): "V1Job", ("kubeflow.org/v2beta1", "MPIJob"): "MPIJob"}
ENUMS = {"strategy.type": {"Recreate", "RollingUpdate"},
         "restartPolicy": {"Always", "OnFailure", "Never", "ExitCode"},
         "completionMode": {"Indexed", "NonIndexed"},
         "accessModes": {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"},
         "cleanPodPolicy": {"None", "Running", "All"},
         "mpiImplementation": {"OpenMPI", "Intel", "MPICH"}}


def check_type(value, type_name, path, problems):
    """Appends to `problems` every field of `value` that `type_name` does not have or types
    otherwise."""
    if type_name == "any":
        return
    if value is None:
        problems.append(f"{path}: empty value")
        return
    if m := re.fullmatch(r"Array<(.+)>", type_name):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, v in enumerate(value):
            check_type(v, m.group(1), f"{path}[{i}]", problems)
        return
    if m := re.fullmatch(r"\{ \[key: string\]: (.+); \}", type_name):
        if not isinstance(value, dict):
            problems.append(f"{path}: expected a map, got {type(value).__name__}")
            return
        for k, v in value.items():
            check_type(v, m.group(1), f"{path}.{k}", problems)
        return
    scalar = {"string": (str,), "Date": (str,), "number": (int, float), "boolean": (bool,),
              "IntOrString": (int, str)}.get(type_name)
    if scalar is not None:
        if not isinstance(value, scalar) or (type_name == "number" and isinstance(value, bool)):
            problems.append(f"{path}: expected {type_name}, got {value!r}")
        return
    fields = MODELS.get(type_name)
    if fields is None:
        problems.append(f"{path}: no schema for {type_name}")
        return
    if not isinstance(value, dict):
        problems.append(f"{path}: expected an object ({type_name}), got {value!r}")
        return
    for k, v in value.items():
        if k not in fields:
            problems.append(f"{path}.{k}: unknown field of {type_name}")
        else:
            check_type(v, fields[k], f"{path}.{k}", problems)


def walk(value, path=""):
    """Every (path, key, value) below `value`."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield path, k, v
            yield from walk(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, f"{path}[{i}]")


def pod_specs(doc):
    spec = doc.get("spec", {})
    if doc["kind"] in ("Deployment", "Job"):
        yield "spec.template.spec", spec.get("template", {}).get("spec", {})
    for role, replica in spec.get("mpiReplicaSpecs", {}).items():
        yield f"spec.mpiReplicaSpecs.{role}.template.spec", replica.get("template", {}).get("spec", {})


def check_istar(docs, problems):
    names = {kind: {d["metadata"]["name"] for d, _ in docs if d["kind"] == kind}
             for kind in ("Secret", "PersistentVolumeClaim")}
    for doc, where in docs:
        at = f"{where}: {doc['kind']} {doc['metadata']['name']}"
        for path, key, value in walk(doc):
            allowed = ENUMS.get(f"{path.split('.')[-1]}.{key}") or ENUMS.get(key)
            for v in value if isinstance(value, list) else [value]:
                if allowed and isinstance(v, str) and v not in allowed:
                    problems.append(f"{at}: {path}.{key}: '{v}' is not one of {sorted(allowed)}")
        if doc["kind"] == "Deployment":
            spec = doc["spec"]
            if spec.get("replicas") != 1 or spec.get("strategy", {}).get("type") != "Recreate":
                problems.append(f"{at}: the coordinator needs replicas: 1 and strategy Recreate "
                                "(one writer of the database)")
            labels = spec["template"]["metadata"].get("labels", {})
            if not spec["selector"]["matchLabels"].items() <= labels.items():
                problems.append(f"{at}: the selector does not match the pod template's labels")
            for service, s_where in docs:
                if service["kind"] != "Service":
                    continue
                if not service["spec"]["selector"].items() <= labels.items():
                    problems.append(f"{s_where}: Service {service['metadata']['name']} does not "
                                    f"select the pods of {doc['metadata']['name']}")
                ports = {p.get("name") for c in spec["template"]["spec"]["containers"]
                         for p in c.get("ports", [])}
                for p in service["spec"]["ports"]:
                    if isinstance(p.get("targetPort"), str) and p["targetPort"] not in ports:
                        problems.append(f"{s_where}: targetPort {p['targetPort']} is no port of "
                                        f"{doc['metadata']['name']}")
        for path, pod in pod_specs(doc):
            volumes = {v["name"]: v for v in pod.get("volumes", [])}
            for c in pod.get("containers", []):
                if not c.get("image"):
                    problems.append(f"{at}: {path}: container {c.get('name')} has no image")
                for m in c.get("volumeMounts", []):
                    if m["name"] not in volumes:
                        problems.append(f"{at}: {path}: mount {m['name']} has no volume")
                for arg in c.get("args", []) + c.get("command", []):
                    if re.match(r"--token(=|$)", str(arg)) or "ISTAR_TOKEN" in str(arg):
                        problems.append(f"{at}: {path}: a token on a command line: {arg}")
            for v in volumes.values():
                claim = v.get("persistentVolumeClaim", {}).get("claimName")
                secret = v.get("secret", {}).get("secretName")
                if claim and claim not in names["PersistentVolumeClaim"]:
                    problems.append(f"{at}: {path}: claim {claim} is not defined")
                if secret and secret not in names["Secret"]:
                    problems.append(f"{at}: {path}: secret {secret} is not defined")


def main():
    folder = sys.argv[1] if len(sys.argv) > 1 else HERE
    docs, problems = [], []
    for name in sorted(os.listdir(folder)):
        if not name.endswith(".yaml") or name == "kustomization.yaml":
            continue
        for i, doc in enumerate(yaml.safe_load_all(open(os.path.join(folder, name)))):
            where = f"{name}#{i + 1}"
            kind = KINDS.get((doc.get("apiVersion"), doc.get("kind")))
            if kind is None:
                problems.append(f"{where}: unknown apiVersion/kind {doc.get('apiVersion')}/"
                                f"{doc.get('kind')}")
                continue
            check_type(doc, kind, f"{where}: {doc['kind']}", problems)
            docs.append((doc, name))
    check_istar(docs, problems)
    for p in problems:
        print(p)
    print(f"validate: {len(docs)} objects, {len(problems)} problem(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

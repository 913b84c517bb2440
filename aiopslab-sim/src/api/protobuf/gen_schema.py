#!/usr/bin/env python3
"""Regenerates schema.txt: the protobuf field numbers of the Kubernetes kinds the virtual
cluster decodes, read from the file descriptors that every kubectl binary embeds (gzipped
FileDescriptorProtos registered by the generated Go code).

Usage: python3 gen_schema.py /usr/lib/google-cloud-sdk/bin/kubectl.1.33 > schema.txt
"""
import re
import sys
import zlib


def varint(buf, i):
    shift = result = 0
    while True:
        b = buf[i]
        i += 1
        result |= (b & 0x7F) << shift
        if b < 0x80:
            return result, i
        shift += 7


def fields(buf):
    """Yields (number, wire type, value) of one protobuf message."""
    i = 0
    while i < len(buf):
        key, i = varint(buf, i)
        num, wt = key >> 3, key & 7
        if wt == 0:
            v, i = varint(buf, i)
        elif wt == 2:
            n, i = varint(buf, i)
            v = buf[i:i + n]
            i += n
        elif wt == 1:
            v = buf[i:i + 8]
            i += 8
        elif wt == 5:
            v = buf[i:i + 4]
            i += 4
        else:
            raise ValueError("wire type %d" % wt)
        yield num, wt, v


SCALARS = {1: "double", 2: "float", 3: "int", 4: "int", 5: "int", 6: "int", 7: "int", 8: "bool",
           9: "string", 12: "bytes", 13: "int", 15: "int", 16: "int", 17: "sint", 18: "sint"}


def parse_message(buf, prefix, out):
    name = ""
    raw_fields, nested, map_entry = [], [], False
    for num, _, v in fields(buf):
        if num == 1:
            name = v.decode()
        elif num == 2:
            raw_fields.append(v)
        elif num == 3:
            nested.append(v)
        elif num == 7:
            for n2, _, v2 in fields(v):
                if n2 == 7 and v2:
                    map_entry = True
    full = prefix + "." + name
    msg = {"fields": [], "map_entry": map_entry}
    for f in raw_fields:
        fd = {"label": 1}
        for n, _, v in fields(f):
            if n == 1:
                fd["name"] = v.decode()
            elif n == 3:
                fd["number"] = v
            elif n == 4:
                fd["label"] = v
            elif n == 5:
                fd["type"] = v
            elif n == 6:
                fd["type_name"] = v.decode().lstrip(".")
            elif n == 10:
                fd["json"] = v.decode()
        msg["fields"].append(fd)
    out[full] = msg
    for n in nested:
        parse_message(n, full, out)


def main(path):
    data = open(path, "rb").read()
    messages = {}
    for m in re.finditer(b"\x1f\x8b\x08\x00\x00\x00\x00\x00", data):
        try:
            raw = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data[m.start():m.start() + 4000000])
        except zlib.error:
            continue
        package, msgs, name = "", [], ""
        try:
            for num, _, v in fields(raw):
                if num == 1:
                    name = v.decode()
                elif num == 2:
                    package = v.decode()
                elif num == 4:
                    msgs.append(v)
        except (ValueError, IndexError, UnicodeDecodeError):
            continue
        if not name.startswith("k8s.io/"):
            continue
        for b in msgs:
            parse_message(b, package, messages)
    roots = [
        "k8s.io.api.core.v1." + k for k in [
            "Binding", "ConfigMap", "Endpoints", "Event", "LimitRange", "Namespace", "Node",
            "PersistentVolumeClaim", "PersistentVolume", "Pod", "PodTemplate",
            "ReplicationController", "ResourceQuota", "Secret", "ServiceAccount", "Service"]
    ] + ["k8s.io.api.apps.v1." + k for k in [
        "ControllerRevision", "DaemonSet", "Deployment", "ReplicaSet", "StatefulSet"]
    ] + ["k8s.io.api.batch.v1.CronJob", "k8s.io.api.batch.v1.Job",
         "k8s.io.api.discovery.v1.EndpointSlice", "k8s.io.api.storage.v1.StorageClass",
         "k8s.io.api.coordination.v1.Lease", "k8s.io.api.events.v1.Event",
         "k8s.io.api.networking.v1.Ingress", "k8s.io.api.networking.v1.IngressClass",
         "k8s.io.api.networking.v1.NetworkPolicy", "k8s.io.api.policy.v1.PodDisruptionBudget",
         "k8s.io.api.policy.v1.Eviction", "k8s.io.api.autoscaling.v2.HorizontalPodAutoscaler",
         "k8s.io.api.autoscaling.v1.Scale", "k8s.io.api.scheduling.v1.PriorityClass",
         "k8s.io.api.authentication.v1.TokenRequest",
         "k8s.io.api.authentication.v1.SelfSubjectReview",
         "k8s.io.api.authorization.v1.SelfSubjectAccessReview",
         "k8s.io.api.authorization.v1.SelfSubjectRulesReview",
         "k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions",
         "k8s.io.apimachinery.pkg.runtime.Unknown"] + [
        "k8s.io.api.rbac.v1." + k for k in ["ClusterRoleBinding", "ClusterRole", "RoleBinding", "Role"]]
    special = {
        "k8s.io.apimachinery.pkg.apis.meta.v1.Time": "time",
        "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "microtime",
        "k8s.io.apimachinery.pkg.apis.meta.v1.Duration": "duration",
        "k8s.io.apimachinery.pkg.api.resource.Quantity": "quantity",
        "k8s.io.apimachinery.pkg.util.intstr.IntOrString": "intorstring",
        "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "rawjson",
        "k8s.io.apimachinery.pkg.runtime.RawExtension": "rawjson",
    }
    seen, todo = [], list(roots)
    while todo:
        name = todo.pop()
        if name in seen or name in special or name not in messages:
            continue
        seen.append(name)
        for f in messages[name]["fields"]:
            t = f.get("type_name")
            if t:
                todo.append(t)
    def kind(f):
        t = f.get("type_name")
        if t in special:
            return special[t]
        if t:
            entry = messages.get(t)
            if entry and entry["map_entry"]:
                kf, vf = entry["fields"][0], entry["fields"][1]
                return "map:" + kind(vf)
            return "msg:" + short(t)
        return SCALARS[f["type"]]
    def short(t):
        return t[len("k8s.io."):] if t.startswith("k8s.io.") else t
    print("# Protobuf field numbers of Kubernetes kinds, extracted by gen_schema.py from")
    print("# the file descriptors embedded in kubectl. One message per `M` line, then one")
    print("# `F <json name> <number> <kind> <repeated>` line per field.")
    for name in sorted(seen):
        if messages[name]["map_entry"]:
            continue
        print("M", short(name))
        for f in messages[name]["fields"]:
            json_name = f.get("name")
            rep = "1" if f["label"] == 3 and not kind(f).startswith("map:") else "0"
            print("F", json_name, f["number"], kind(f), rep)


if __name__ == "__main__":
    main(sys.argv[1])

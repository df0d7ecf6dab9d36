#!/usr/bin/env python3
"""Writes an OCI image layout with LAYERS gzip layers of SIZE_MB random bytes each, for
scripts/bench-push. Usage: make-bench-image.py DIR LAYERS SIZE_MB"""
import gzip, hashlib, io, json, os, sys, tarfile

out, layers, size_mb = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
blobs = os.path.join(out, "blobs", "sha256")
os.makedirs(blobs, exist_ok=True)

def put(data):
    digest = hashlib.sha256(data).hexdigest()
    with open(os.path.join(blobs, digest), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + digest, "size": len(data)}

layer_descriptors, diff_ids = [], []
for n in range(layers):
    payload = os.urandom(size_mb << 20)
    tar_bytes = io.BytesIO()
    with tarfile.open(fileobj=tar_bytes, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(f"data/layer{n}.bin")
        info.size, info.mtime = len(payload), 0
        tar.addfile(info, io.BytesIO(payload))
    raw = tar_bytes.getvalue()
    diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
    layer_descriptors.append({"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                              **put(gzip.compress(raw, compresslevel=1, mtime=0))})

config = json.dumps({"architecture": "amd64", "os": "linux",
                     "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **put(config)},
                       "layers": layer_descriptors}).encode()
m = put(manifest)
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", **m,
               "annotations": {"org.opencontainers.image.ref.name": "bench"}}]}, f)
with open(os.path.join(out, "oci-layout"), "w") as f:
    json.dump({"imageLayoutVersion": "1.0.0"}, f)
print(m["digest"])

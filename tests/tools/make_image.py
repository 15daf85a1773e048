#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Build a small saved image from a JSON description, for scanner tests.

Usage: make_image.py SPEC.json OUTPUT

SPEC: {"format": "docker-archive" | "oci-archive" | "oci-dir",
       "config": {... image config "config" object, optional ...},
       "layers": [{"compression": "none" | "gzip" | "zstd",
                   "created_by": "...",
                   "truncate": N (optional: keep only N bytes of the blob),
                   "diff_id": "sha256:..." (optional: overrides the real one),
                   "entries": [{"path": "...", "type": "file" | "dir" |
                                "symlink" | "hardlink", "content": "...",
                                "content_repeat": [TEXT, COUNT],
                                "content_file": PATH, "mode": 420,
                                "link": "..."}]}],
       "missing_layer": true (optional: leave the last layer blob out),
       "multi_platform": true (optional, OCI: nest the image in a
                               multi-platform index after other entries),
       "host_arch": "amd64" (the OCI architecture of the real image)}
Entries are written exactly as given, so hostile paths stay hostile.
"""

import gzip
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile


def entry_bytes(entry):
    if "content_file" in entry:
        with open(entry["content_file"], "rb") as f:
            return f.read()
    if "content_repeat" in entry:
        text, count = entry["content_repeat"]
        return text.encode() * count
    return entry.get("content", "").encode()


def build_layer_tar(entries):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in entries:
            info = tarfile.TarInfo(entry["path"])
            kind = entry.get("type", "file")
            info.mode = entry.get("mode", 0o755 if kind == "dir" else 0o644)
            info.mtime = 0
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = entry["link"]
                tar.addfile(info)
            elif kind == "hardlink":
                info.type = tarfile.LNKTYPE
                info.linkname = entry["link"]
                tar.addfile(info)
            else:
                data = entry_bytes(entry)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def compress(data, method):
    if method == "gzip":
        return gzip.compress(data, compresslevel=6, mtime=0)
    if method == "zstd":
        return subprocess.run(["zstd", "-q", "-c", "-3"], input=data, capture_output=True,
                              check=True).stdout
    return data


MEDIA_TYPES = {
    "none": "application/vnd.oci.image.layer.v1.tar",
    "gzip": "application/vnd.oci.image.layer.v1.tar+gzip",
    "zstd": "application/vnd.oci.image.layer.v1.tar+zstd",
}


def sha256(data):
    return hashlib.sha256(data).hexdigest()


def main():
    spec_path, output = sys.argv[1], sys.argv[2]
    with open(spec_path, encoding="utf-8") as f:
        spec = json.load(f)

    fmt = spec.get("format", "docker-archive")
    blobs = {}  # name -> bytes
    layer_descriptors = []
    diff_ids = []
    history = []
    for layer in spec["layers"]:
        tar_bytes = build_layer_tar(layer.get("entries", []))
        diff_ids.append(layer.get("diff_id", "sha256:" + sha256(tar_bytes)))
        method = layer.get("compression", "none")
        blob = compress(tar_bytes, method)
        if "truncate" in layer:
            blob = blob[: layer["truncate"]]
        layer_descriptors.append((blob, method))
        history.append({"created": "2024-01-01T00:00:00Z",
                        "created_by": layer.get("created_by", "layer")})

    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": spec.get("config", {}),
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": history,
    }
    config_bytes = json.dumps(config).encode()
    missing = spec.get("missing_layer", False)

    if fmt == "docker-archive":
        layer_names = []
        for i, (blob, _) in enumerate(layer_descriptors):
            name = sha256(blob) + ".tar"
            layer_names.append(name)
            if not (missing and i == len(layer_descriptors) - 1):
                blobs[name] = blob
        config_name = sha256(config_bytes) + ".json"
        blobs[config_name] = config_bytes
        manifest = [{"Config": config_name, "RepoTags": ["localhost/test:latest"],
                     "Layers": layer_names}]
        blobs["manifest.json"] = json.dumps(manifest).encode()
    else:
        layers = []
        for i, (blob, method) in enumerate(layer_descriptors):
            digest = sha256(blob)
            layers.append({"mediaType": MEDIA_TYPES[method], "digest": "sha256:" + digest,
                           "size": len(blob)})
            if not (missing and i == len(layer_descriptors) - 1):
                blobs["blobs/sha256/" + digest] = blob
        blobs["blobs/sha256/" + sha256(config_bytes)] = config_bytes
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                       "digest": "sha256:" + sha256(config_bytes), "size": len(config_bytes)},
            "layers": layers,
        }
        manifest_bytes = json.dumps(manifest).encode()
        blobs["blobs/sha256/" + sha256(manifest_bytes)] = manifest_bytes
        top = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
               "digest": "sha256:" + sha256(manifest_bytes), "size": len(manifest_bytes),
               "annotations": {"org.opencontainers.image.ref.name": "latest"}}
        if spec.get("multi_platform"):
            # A nested index whose first entries are an attestation and an
            # image for another architecture, with no layers.
            host = spec.get("host_arch", "amd64")
            other_arch = "arm64" if host != "arm64" else "amd64"
            empty_config = json.dumps({"architecture": other_arch, "os": "linux",
                                       "rootfs": {"type": "layers", "diff_ids": []}}).encode()
            blobs["blobs/sha256/" + sha256(empty_config)] = empty_config
            other = json.dumps({"schemaVersion": 2, "layers": [],
                                "config": {"digest": "sha256:" + sha256(empty_config),
                                           "size": len(empty_config)}}).encode()
            blobs["blobs/sha256/" + sha256(other)] = other
            entry = {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                     "digest": "sha256:" + sha256(other), "size": len(other)}
            nested = json.dumps({"schemaVersion": 2, "manifests": [
                dict(entry, annotations={"vnd.docker.reference.type": "attestation-manifest"}),
                dict(entry, platform={"os": "linux", "architecture": other_arch}),
                {"mediaType": top["mediaType"], "digest": top["digest"], "size": top["size"],
                 "platform": {"os": "linux", "architecture": host}}]}).encode()
            blobs["blobs/sha256/" + sha256(nested)] = nested
            top = {"mediaType": "application/vnd.oci.image.index.v1+json",
                   "digest": "sha256:" + sha256(nested), "size": len(nested),
                   "annotations": {"org.opencontainers.image.ref.name": "latest"}}
        index = {"schemaVersion": 2, "manifests": [top]}
        blobs["index.json"] = json.dumps(index).encode()
        blobs["oci-layout"] = b'{"imageLayoutVersion": "1.0.0"}'

    if fmt == "oci-dir":
        for name, data in blobs.items():
            path = os.path.join(output, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "wb") as f:
                f.write(data)
        return
    with tarfile.open(output, "w") as tar:
        for name, data in blobs.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))


if __name__ == "__main__":
    main()

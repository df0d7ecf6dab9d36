import Foundation
import OCI

/// An OCI layout shaped like a registry tool's test repository (modelled on the `testdata/testrepo`
/// layout of regclient/regclient, written here from scratch): 26 named `index.json` entries whose
/// manifests reference **each other** — platform images that are entries of their own and children
/// of several indexes, an index listing the same child twice, an index whose child is another
/// entry's index, an index of indexes, artifacts whose `subject` is another entry (one of them the
/// subject of an artifact itself), referrers fallback-tag indexes `sha256-<hex>` listing those
/// artifacts, one fallback index that is itself a subject (`loop`: its artifact's own fallback
/// index is an entry too), a digest under two names (`v3`, `latest` and a `….meta` tag), and an
/// unnamed entry.
///
/// Pushed with every named entry as an item of its own into one repository, items push manifests
/// that other items push too and put indexes whose children other items are putting: the shape of
/// docs/run.md. Deterministic: the same bytes on every run and machine.
public struct CrossReferenceLayout: Sendable {
    public struct Entry: Sendable {
        /// The `org.opencontainers.image.ref.name`: the tag an item pushes it under.
        public let name: String
        public let descriptor: Descriptor
    }

    public let path: String
    /// The named `index.json` entries, in order.
    public let entries: [Entry]
    /// Every manifest of the layout (images, artifacts, indexes), each once.
    public let manifests: [Digest]
    /// For each fallback-tag entry (`sha256-<hex>`), the digests it lists.
    public let fallbackListings: [String: [Digest]]

    public func digest(_ name: String) -> Digest? { entries.first { $0.name == name }?.descriptor.digest }

    /// Writes the layout into `path` (a directory that need not exist).
    public static func write(to path: String) throws -> CrossReferenceLayout {
        var blobs: [[UInt8]] = []
        var manifests: [Digest] = []
        func add(_ bytes: [UInt8]) { if !blobs.contains(bytes) { blobs.append(bytes) } }

        /// A platform image: a config and one small uncompressed layer of its own.
        func image(_ name: String, architecture: String) -> Descriptor {
            let layer = TestImages.uncompressedLayer(TestImages.tree([("\(name).txt", "\(name)\n")]))
            let config = TestImages.config(diffIDs: [layer.diffID], architecture: architecture)
            let configDescriptor = TestImages.descriptor(config, MediaType.ociConfig)
            let manifest = Array(
                #"{"schemaVersion":2,"mediaType":"\#(MediaType.ociManifest)","config":\#(json(configDescriptor)),"layers":[\#(json(layer.descriptor))]}"#
                    .utf8)
            add(config)
            add(layer.bytes)
            add(manifest)
            let descriptor = TestImages.descriptor(manifest, MediaType.ociManifest)
            manifests.append(descriptor.digest)
            return descriptor
        }

        /// An artifact: the empty config, one blob, and a `subject`.
        func artifact(_ name: String, type: String, subject: Descriptor) -> Descriptor {
            let empty = Array("{}".utf8)
            let emptyDescriptor = TestImages.descriptor(empty, "application/vnd.oci.empty.v1+json")
            let content = Array("\(type) of \(subject.digest) (\(name))\n".utf8)
            let contentDescriptor = TestImages.descriptor(content, "application/vnd.example.data")
            let manifest = Array(
                (#"{"schemaVersion":2,"mediaType":"\#(MediaType.ociManifest)","artifactType":"\#(type)","config":\#(json(emptyDescriptor)),"#
                    + #""layers":[\#(json(contentDescriptor))],"subject":\#(json(subject)),"annotations":{"org.example.name":"\#(name)"}}"#)
                    .utf8)
            add(empty)
            add(content)
            add(manifest)
            var descriptor = TestImages.descriptor(manifest, MediaType.ociManifest)
            manifests.append(descriptor.digest)
            descriptor.artifactType = type
            descriptor.annotations = ["org.example.name": name]
            return descriptor
        }

        /// An index over `children` (each with its platform, artifact type or annotations as given).
        func index(_ children: [Descriptor], annotation: String, mediaType: String = MediaType.ociIndex) -> Descriptor {
            let list = children.map { json($0) }.joined(separator: ",")
            let document = Array(
                #"{"schemaVersion":2,"mediaType":"\#(mediaType)","manifests":[\#(list)],"annotations":{"org.example.version":"\#(annotation)"}}"#
                    .utf8)
            add(document)
            let descriptor = TestImages.descriptor(document, mediaType)
            manifests.append(descriptor.digest)
            return descriptor
        }

        /// A referrers fallback-tag index (distribution spec 1.1): no annotations of its own.
        func fallback(_ referrers: [Descriptor]) -> Descriptor {
            let list = referrers.map { json($0) }.joined(separator: ",")
            let document = Array(#"{"schemaVersion":2,"mediaType":"\#(MediaType.ociIndex)","manifests":[\#(list)]}"#.utf8)
            add(document)
            let descriptor = TestImages.descriptor(document, MediaType.ociIndex)
            manifests.append(descriptor.digest)
            return descriptor
        }

        func on(_ d: Descriptor, _ architecture: String, _ os: String = "linux") -> Descriptor {
            var d = d
            d.platform = Platform(architecture: architecture, os: os)
            return d
        }

        func bare(_ d: Descriptor) -> Descriptor { Descriptor(mediaType: d.mediaType, digest: d.digest, size: d.size) }

        // Platform images.
        let amd64 = image("amd64", architecture: "amd64")
        let arm64 = image("arm64", architecture: "arm64")
        let v2amd64 = image("v2-amd64", architecture: "amd64")
        let v2arm64 = image("v2-arm64", architecture: "arm64")
        let v3amd64 = image("v3-amd64", architecture: "amd64")
        let s390x = image("s390x", architecture: "s390x")
        let unnamed = image("unnamed", architecture: "ppc64le")
        // A build attestation manifest, as docker buildx attaches it to an index (platform unknown).
        let attestation = image("a-docker", architecture: "unknown")
        var attestationChild = on(attestation, "unknown", "unknown")
        attestationChild.annotations = ["vnd.docker.reference.type": "attestation-manifest"]

        // Indexes: v1 lists its attestation twice (once per platform it describes), as buildx does.
        let v1 = index([on(amd64, "amd64"), on(arm64, "arm64"), attestationChild, attestationChild], annotation: "v1")
        let v2 = index([on(v2amd64, "amd64"), on(v2arm64, "arm64")], annotation: "v2")
        // v3's third child is the entry v2 (an index whose child is another top-level entry).
        let v3 = index([on(v3amd64, "amd64"), on(arm64, "arm64"), bare(v2)], annotation: "v3")
        let b1 = index([on(amd64, "amd64"), on(arm64, "arm64")], annotation: "b1")
        let b2 = index([on(amd64, "amd64"), on(arm64, "arm64")], annotation: "b2")
        let b3 = index([on(amd64, "amd64"), on(arm64, "arm64")], annotation: "b3")
        let b4 = index([on(v2amd64, "amd64"), on(v2arm64, "arm64"), attestationChild], annotation: "b4")
        let nested = index([bare(v1), bare(v2), bare(b1)], annotation: "nested")

        // Artifacts whose subjects are other entries, and their fallback-tag indexes.
        let a1 = artifact("a1", type: "application/example.sbom", subject: bare(v2))
        let a2 = artifact("a2", type: "application/example.signature", subject: bare(v2))
        let a3 = artifact("a3", type: "application/example.sbom", subject: bare(amd64))
        let a4 = artifact("a4", type: "application/example.signature", subject: bare(a1))
        let a5 = artifact("a5", type: "application/example.sbom", subject: bare(v3))
        let a6 = artifact("a6", type: "application/example.signature", subject: bare(nested))
        let fallbackV2 = fallback([a1, a2])
        let fallbackAmd64 = fallback([a3])
        let fallbackA1 = fallback([a4])
        let fallbackNested = fallback([a6])
        // `loop`: an artifact whose subject is v2's fallback index, whose own fallback index is an
        // entry too — the fallback tags reach back into each other's listings.
        let loop = artifact("loop", type: "application/example.signature", subject: bare(fallbackV2))
        let fallbackLoop = fallback([loop])

        func tag(for subject: Descriptor) -> String { "sha256-" + subject.digest.hex }

        let named: [(String, Descriptor)] = [
            ("b1", b1), ("b2", b2), ("b3", b3), ("v1", v1), ("v2", v2), ("v3", v3),
            ("a-docker", attestation), ("a1", a1), (tag(for: v2), fallbackV2), ("a2", a2),
            ("amd64", amd64), ("arm64", arm64), ("s390x", s390x), ("b4", b4), ("nested", nested),
            ("a3", a3), (tag(for: amd64), fallbackAmd64), ("a4", a4), (tag(for: a1), fallbackA1),
            ("a5", a5), ("a6", a6), (tag(for: nested), fallbackNested),
            ("loop", loop), (tag(for: fallbackV2), fallbackLoop),
            ("latest", v3), ("\(tag(for: v1)).\(v3.digest.hex.prefix(16)).meta", v3)
        ]
        let entries = named.map { Entry(name: $0.0, descriptor: bare($0.1)) }
        var index = entries.map { json($0.descriptor, refName: $0.name) }
        // An entry without a name (another platform image), as a tool's layout keeps them.
        index.insert(json(bare(unnamed)), at: 11)
        try TestImages.writeLayout(
            path, blobs: blobs,
            index: #"{"schemaVersion":2,"mediaType":"\#(MediaType.ociIndex)","manifests":[\#(index.joined(separator: ","))]}"#)
        var unique: [Digest] = []
        for digest in manifests where !unique.contains(digest) { unique.append(digest) }
        return CrossReferenceLayout(
            path: path, entries: entries, manifests: unique,
            fallbackListings: [
                tag(for: v2): [a1.digest, a2.digest], tag(for: amd64): [a3.digest], tag(for: a1): [a4.digest],
                tag(for: nested): [a6.digest], tag(for: fallbackV2): [loop.digest]
            ])
    }

    /// A descriptor as compact JSON with the fields an index entry may carry, in a fixed order.
    static func json(_ d: Descriptor, refName: String? = nil) -> String {
        var text = #"{"mediaType":"\#(d.mediaType)","digest":"\#(d.digest)","size":\#(d.size)"#
        if let artifactType = d.artifactType { text += #","artifactType":"\#(artifactType)""# }
        var annotations = d.annotations ?? [:]
        if let refName { annotations[Descriptor.refNameAnnotation] = refName }
        if !annotations.isEmpty {
            let pairs = annotations.keys.sorted().map { #""\#($0)":"\#(annotations[$0]!)""# }
            text += #","annotations":{\#(pairs.joined(separator: ","))}"#
        }
        if let platform = d.platform { text += #","platform":{"architecture":"\#(platform.architecture)","os":"\#(platform.os)"}"# }
        return text + "}"
    }
}

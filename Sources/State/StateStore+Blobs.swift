import struct Crypto.HMAC
import struct Crypto.SHA256
import struct Crypto.SymmetricKey
import Foundation
import OCI
import SQLite

/// Distribution metadata that makes reruns cheap: where blobs are known to be, and which
/// compressed digest an archive layer's diffID was pushed as (docs/cli.md "State database").
extension StateStore {
    /// A keyed hash (HMAC-SHA256 with this database's random key) of credential material, as
    /// `hmac-sha256:HEX`. The same credentials give the same identity in this database only, and
    /// the credentials cannot be recovered from it; the material itself is never stored.
    public func credentialIdentity(_ secretMaterial: String) -> String {
        let mac = HMAC<SHA256>.authenticationCode(for: Array(secretMaterial.utf8), using: SymmetricKey(data: identityKeyBytes))
        return "hmac-sha256:" + hexString(mac)
    }

    /// Records that `digest` is present in `registryHost/repository`, seen under `identity`.
    public func recordBlob(
        registryHost: String, repository: String, digest: Digest, identity: String,
        seen: Date = Date()
    ) throws(StateError) {
        try write { c in
            try upsertBlobs(
                [BlobLocation(registryHost: registryHost, repository: repository, digest: digest, identity: identity)],
                into: c, seen: seen)
        }
    }

    /// Forgets that `digest` is in `registryHost/repository` (under every identity): the registry
    /// said otherwise (a HEAD 404 or a failed mount).
    public func removeBlob(registryHost: String, repository: String, digest: Digest) throws(StateError) {
        try write { c in
            try c.run(
                "DELETE FROM blob_locations WHERE registry_host = ? AND repository = ? AND digest = ?",
                [registryHost, repository, digest.string])
        }
    }

    /// Whether `digest` is known to be in `registryHost/repository`.
    public func isBlobKnown(registryHost: String, repository: String, digest: Digest) throws(StateError) -> Bool {
        try read { c in
            try !c.query(
                "SELECT 1 FROM blob_locations WHERE registry_host = ? AND repository = ? AND digest = ? LIMIT 1",
                [registryHost, repository, digest.string]
            ) { _ in true }.isEmpty
        }
    }

    /// Other repositories of the same registry known to hold `digest`, best mount source first:
    /// those seen under the same credential identity (the mount is then most likely allowed), then
    /// those sharing more leading path components with the target (same organisation), then the
    /// most recently seen.
    public func mountCandidates(
        registryHost: String, digest: Digest, targetRepository: String,
        identity: String, limit: Int = 3
    ) throws(StateError) -> [String] {
        struct Candidate { var repository: String; var sameIdentity: Bool; var lastSeen: Double }
        let rows = try read { c in
            try c.query(
                """
                SELECT repository, MAX(CASE WHEN identity = ? THEN 1 ELSE 0 END), MAX(last_seen) FROM blob_locations
                WHERE registry_host = ? AND digest = ? AND repository <> ?
                GROUP BY repository
                """, [identity, registryHost, digest.string, targetRepository]
            ) { row in
                Candidate(repository: try row.string(0), sameIdentity: try row.int64(1) != 0, lastSeen: try row.double(2))
            }
        }
        let target = targetRepository.split(separator: "/")
        func shared(_ repository: String) -> Int {
            zip(repository.split(separator: "/"), target).prefix { $0 == $1 }.count
        }
        let sorted = rows.map { ($0, shared($0.repository)) }.sorted { a, b in
            if a.0.sameIdentity != b.0.sameIdentity { return a.0.sameIdentity }
            if a.1 != b.1 { return a.1 > b.1 }
            if a.0.lastSeen != b.0.lastSeen { return a.0.lastSeen > b.0.lastSeen }
            return a.0.repository < b.0.repository
        }
        return sorted.prefix(max(0, limit)).map { $0.0.repository }
    }

    /// Records that the uncompressed layer `diffID`, compressed with `settings` (a key naming the
    /// algorithm, level and implementation, so different settings never share a mapping), gave
    /// `compressed`.
    public func recordDiffID(_ diffID: Digest, compressed: Descriptor, settings: String) throws(StateError) {
        try write { c in
            try c.run(
                """
                INSERT INTO diffid_mappings (diff_id, settings, compressed_digest, media_type, size, recorded)
                VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (diff_id, settings) DO UPDATE SET compressed_digest = excluded.compressed_digest,
                    media_type = excluded.media_type, size = excluded.size, recorded = excluded.recorded
                """,
                [
                    diffID.string, settings, compressed.digest.string, compressed.mediaType, compressed.size,
                    Date().timeIntervalSince1970
                ])
        }
    }

    /// The compressed layer recorded for `diffID` under `settings`, if any.
    public func compressedDigest(forDiffID diffID: Digest, settings: String) throws(StateError) -> Descriptor? {
        let rows = try read { c in
            try c.query(
                "SELECT compressed_digest, media_type, size FROM diffid_mappings WHERE diff_id = ? AND settings = ?",
                [diffID.string, settings]
            ) { row in
                (try row.string(0), try row.string(1), try row.int64(2))
            }
        }
        guard let (digestText, mediaType, size) = rows.first else { return nil }
        guard let digest = try? Digest(parsing: digestText) else {
            throw .corrupt(path: path, detail: "diffid_mappings.compressed_digest \"\(digestText)\" is not a digest")
        }
        return Descriptor(mediaType: mediaType, digest: digest, size: size)
    }

    /// A blob sighting: the newest `last_seen` wins (also `state copy`'s merge).
    static let upsertBlobSQL = """
            INSERT INTO blob_locations (registry_host, repository, digest, identity, last_seen) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (registry_host, repository, digest, identity) DO UPDATE SET last_seen =
                CASE WHEN excluded.last_seen > blob_locations.last_seen THEN excluded.last_seen ELSE blob_locations.last_seen END
        """

    func upsertBlobs(_ blobs: [BlobLocation], into c: any LedgerConnection, seen: Date) throws {
        try c.runMany(
            Self.upsertBlobSQL,
            blobs.map { [$0.registryHost, $0.repository, $0.digest.string, $0.identity, seen.timeIntervalSince1970] })
    }
}

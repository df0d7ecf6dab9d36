import Foundation
import OCI
import YAML

/// Turns the YAML node tree into a `Job`, checking every rule of docs/jobfile.md on the way.
/// Keys and their meaning: docs/jobfile.md ("Top level", "Registries", "Images", "Tags").
struct JobDecoder {
    var context: DecodingContext
    /// Absolute directory of the job file; relative paths are resolved against it.
    let directory: String

    static let topKeys = ["version", "name", "defaults", "registries", "images", "schedule", "timezone"]
    static let defaultsKeys = ["concurrency", "images", "retries", "timeout", "platforms", "referrers", "verify", "sign"]
    static let registryKeys = ["url", "mirrors", "insecure", "ca", "cert", "key", "auth", "timeout"]
    static let authKeys = ["username", "password", "token"]
    static let imageKeys = ["source", "repository", "tags", "targets", "platforms", "referrers", "verify", "sign"]
    static let selectorKeys = ["match", "exclude", "semver", "latest", "prerelease"]

    /// `[a-z0-9][a-z0-9._-]*` (docs/jobfile.md "Top level": `name`).
    static func isValidJobName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, isLowerAlnum(first) else { return false }
        return s.unicodeScalars.allSatisfy { isLowerAlnum($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    /// Registry names are map keys and appear in `targets:`, the plan and the state database:
    /// `[A-Za-z0-9][A-Za-z0-9._-]*`.
    static func isValidRegistryName(_ s: String) -> Bool {
        guard let first = s.unicodeScalars.first, isAlnum(first) else { return false }
        return s.unicodeScalars.allSatisfy { isAlnum($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    private static func isLowerAlnum(_ c: Unicode.Scalar) -> Bool { ("a"..."z").contains(c) || ("0"..."9").contains(c) }
    private static func isAlnum(_ c: Unicode.Scalar) -> Bool { isLowerAlnum(c) || ("A"..."Z").contains(c) }

    /// docs/jobfile.md "Tags": `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
    static func isValidTag(_ s: String) -> Bool { ImageReference.isValidTag(s) }

    mutating func decode(_ root: Node) -> Job? {
        guard
            let top = context.fields(
                root, in: "the job file", known: Self.topKeys,
                required: ["version", "name", "registries", "images"],
                allowExtensions: true)
        else { return nil }
        var version: Int?
        if let node = top["version"] {
            if let v = context.int(node, "'version'") {
                if v == 1 {
                    version = v
                } else {
                    context.error(node.location, "unsupported job file version \(v); this pushctl reads version 1")
                }
            }
        }
        var name: String?
        if let node = top["name"], let n = context.string(node, "'name'") {
            if Self.isValidJobName(n) {
                name = n
            } else {
                context.error(node.location, "job name '\(n)' must match [a-z0-9][a-z0-9._-]*")
            }
        }
        let defaults = top["defaults"].map { decodeDefaults($0) } ?? Defaults.standard
        var declaredRegistries: [String] = []
        let registries = top["registries"].map { decodeRegistries($0, declared: &declaredRegistries) } ?? []
        // Without a usable `registries:` mapping, unknown-target errors would only repeat that problem.
        let known: [String]? = top["registries"]?.mapping?.isEmpty == false ? declaredRegistries : nil
        let images = top["images"].map { decodeImages($0, registries: registries, declared: known) } ?? []

        let schedule = decodeSchedule(top["schedule"], timezone: top["timezone"])

        guard let version, let name else { return nil }
        var job = Job(
            version: version, name: name, defaults: defaults, registries: registries, images: images,
            filePath: "", directory: directory, fileDigest: Digest.of([UInt8]()))
        job.schedule = schedule
        return job
    }

    // MARK: schedule

    /// `schedule:` and `timezone:` (docs/jobfile.md "Schedules"): a cron expression, evaluated in
    /// an IANA time zone (UTC when none is given).
    mutating func decodeSchedule(_ node: Node?, timezone zoneNode: Node?) -> CronSchedule? {
        // Most jobs have neither; a time zone is not even looked up then (it opens ICU's data).
        guard node != nil || zoneNode != nil else { return nil }
        var zone = TimeZone(identifier: "UTC")!
        if let zoneNode, let name = context.string(zoneNode, "'timezone'") {
            if let found = TimeZone(identifier: name) {
                zone = found
            } else {
                context.error(zoneNode.location, "'timezone' '\(name)' is not an IANA time zone name (e.g. UTC, Europe/Berlin)")
            }
            if node == nil { context.error(zoneNode.location, "'timezone' is given without 'schedule'") }
        }
        guard let node, let text = context.string(node, "'schedule'") else { return nil }
        do throws(CronError) {
            return try CronSchedule(parsing: text, timeZone: zone)
        } catch {
            context.error(node.location, "'schedule': \(error)")
            return nil
        }
    }

    // MARK: defaults

    mutating func decodeDefaults(_ node: Node) -> Defaults {
        var d = Defaults.standard
        guard let f = context.fields(node, in: "'defaults'", known: Self.defaultsKeys) else { return d }
        if let n = f["concurrency"], let v = context.int(n, "'defaults.concurrency'", range: Defaults.concurrencyRange) {
            d.concurrency = v
        }
        if let n = f["images"], let v = context.int(n, "'defaults.images'", range: Defaults.imagesRange) { d.images = v }
        if let n = f["retries"], let v = context.int(n, "'defaults.retries'", range: Defaults.retriesRange) { d.retries = v }
        if let n = f["timeout"], let v = decodeDuration(n, "'defaults.timeout'") { d.timeout = v }
        if let n = f["platforms"] { d.platforms = decodePlatforms(n, "'defaults.platforms'") }
        if let n = f["referrers"] { d.referrers = decodeReferrers(n, "'defaults.referrers'") }
        if let n = f["verify"] { d.verify = decodeVerify(n, "'defaults.verify'") }
        if let n = f["sign"] { d.sign = decodeSign(n, "'defaults.sign'") }
        return d
    }

    // MARK: registries

    mutating func decodeRegistries(_ node: Node, declared: inout [String]) -> [Registry] {
        guard let entries = node.mapping else {
            context.error(node.location, "'registries' must be a mapping of registry name to registry, found \(node.kindDescription)")
            return []
        }
        if entries.isEmpty { context.error(node.location, "'registries' must name at least one registry") }
        var out: [Registry] = []
        var firstLine: [String: Int] = [:]
        for entry in entries {
            guard let scalar = entry.key.scalar, !scalar.isNull else {
                context.error(entry.key.location, "a registry name must be a plain word, found \(entry.key.kindDescription)")
                continue
            }
            guard let name = context.substitute(scalar, at: entry.key.location) else { continue }
            if let line = firstLine[name] {
                context.error(entry.key.location, "duplicate registry '\(name)' (first defined at line \(line))")
                continue
            }
            firstLine[name] = entry.key.location.line
            declared.append(name)
            if !Self.isValidRegistryName(name) {
                context.error(entry.key.location, "registry name '\(name)' must match [A-Za-z0-9][A-Za-z0-9._-]*")
            }
            if let r = decodeRegistry(entry.value, name: name, at: entry.key.location) { out.append(r) }
        }
        return out
    }

    mutating func decodeRegistry(_ node: Node, name: String, at keyLocation: Location) -> Registry? {
        let what = "registry '\(name)'"
        guard let f = context.fields(node, in: what, known: Self.registryKeys, required: ["url"]) else { return nil }
        var ok = true
        let insecure = f["insecure"].flatMap { context.bool($0, "'insecure' of \(what)") } ?? false

        var endpoints: [(RegistryURL, Location)] = []
        var url: RegistryURL?
        if let n = f["url"] {
            url = parseURL(n, "'url' of \(what)")
            if let url { endpoints.append((url, n.location)) } else { ok = false }
        }
        var mirrors: [RegistryURL] = []
        if let n = f["mirrors"], let items = context.sequence(n, "'mirrors' of \(what)") {
            for item in items {
                if let m = parseURL(item, "each mirror of \(what)") {
                    mirrors.append(m)
                    endpoints.append((m, item.location))
                } else {
                    ok = false
                }
            }
        }
        // Endpoints must be distinct, and plain http needs `insecure: true` except on loopback.
        var seen: [RegistryURL: Int] = [:]
        for (endpoint, location) in endpoints {
            if let line = seen[endpoint] {
                context.error(location, "endpoint '\(endpoint)' is listed twice in \(what) (also at line \(line))")
                ok = false
            }
            seen[endpoint] = location.line
            if endpoint.scheme == .http && !insecure && !endpoint.isLoopback {
                context.error(
                    location,
                    "plain-http endpoint '\(endpoint)' of \(what) needs 'insecure: true' (only loopback addresses may use http:// without it)"
                )
                ok = false
            }
        }

        let ca = f["ca"].flatMap { n in context.string(n, "'ca' of \(what)").map { SourceSpec.resolve($0, in: directory) } }
        let cert = f["cert"].flatMap { n in context.string(n, "'cert' of \(what)").map { SourceSpec.resolve($0, in: directory) } }
        let key = f["key"].flatMap { n in context.string(n, "'key' of \(what)").map { SourceSpec.resolve($0, in: directory) } }
        if let certNode = f["cert"], f["key"] == nil {
            context.error(certNode.location, "\(what) has 'cert' without 'key'; a client certificate needs its key (both or neither)")
            ok = false
        }
        if let keyNode = f["key"], f["cert"] == nil {
            context.error(keyNode.location, "\(what) has 'key' without 'cert'; a client key needs its certificate (both or neither)")
            ok = false
        }
        var auth: Auth?
        if let n = f["auth"] {
            auth = decodeAuth(n, what)
            if auth == nil { ok = false }
        }
        var timeout: Double?
        if let n = f["timeout"] {
            timeout = decodeDuration(n, "'timeout' of \(what)")
            if timeout == nil { ok = false }
        }
        guard ok, let url else { return nil }
        var registry = Registry(
            name: name, url: url, mirrors: mirrors, insecure: insecure, ca: ca, cert: cert, key: key,
            auth: auth, location: keyLocation)
        registry.timeout = timeout
        return registry
    }

    /// A duration such as `30s`, `2m`, `1m30s` or `1500ms` (units `h`, `m`, `s`, `ms`; whole
    /// numbers), in seconds, within `Defaults.timeoutRange`.
    mutating func decodeDuration(_ node: Node, _ what: String) -> Double? {
        guard let text = context.string(node, what) else { return nil }
        guard let seconds = Self.parseDuration(text) else {
            context.error(node.location, "\(what) must be a duration such as 30s, 2m or 1m30s, found '\(text)'")
            return nil
        }
        guard Defaults.timeoutRange.contains(seconds) else {
            context.error(node.location, "\(what) must be between 1s and 1h, found '\(text)'")
            return nil
        }
        return seconds
    }

    /// `1h`, `2m`, `30s`, `1500ms` and sums of them written together (`1m30s`); nil otherwise.
    static func parseDuration(_ text: String) -> Double? {
        var rest = Substring(text)
        var total = 0.0
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 9, let value = Double(digits) else { return nil }
            rest = rest.dropFirst(digits.count)
            let unit = rest.prefix { $0.isASCII && $0.isLetter }
            rest = rest.dropFirst(unit.count)
            switch unit {
            case "h": total += value * 3600
            case "m": total += value * 60
            case "s": total += value
            case "ms": total += value / 1000
            default: return nil
            }
        }
        return total
    }

    mutating func parseURL(_ node: Node, _ what: String) -> RegistryURL? {
        guard let text = context.string(node, what) else { return nil }
        switch RegistryURL.parse(text) {
        case .success(let url): return url
        case .failure(let e):
            context.error(node.location, "\(what): \(e)")
            return nil
        }
    }

    mutating func decodeAuth(_ node: Node, _ what: String) -> Auth? {
        guard let f = context.fields(node, in: "'auth' of \(what)", known: Self.authKeys) else { return nil }
        func nonEmpty(_ key: String, _ ctx: inout DecodingContext) -> String? {
            guard let n = f[key], let v = ctx.string(n, "'auth.\(key)' of \(what)") else { return nil }
            if v.isEmpty { ctx.error(n.location, "'auth.\(key)' of \(what) is empty"); return nil }
            return v
        }
        let hasUser = f["username"] != nil, hasPassword = f["password"] != nil, hasToken = f["token"] != nil
        if hasToken && (hasUser || hasPassword) {
            context.error(f.location, "'auth' of \(what) takes either 'username' + 'password' or 'token', not both")
            return nil
        }
        if hasToken { return nonEmpty("token", &context).map { Auth.token($0) } }
        if hasUser != hasPassword || !hasUser {
            context.error(
                f.location,
                hasUser
                    ? "'auth' of \(what) has 'username' without 'password'"
                    : hasPassword
                        ? "'auth' of \(what) has 'password' without 'username'"
                        : "'auth' of \(what) needs 'username' + 'password' or 'token'")
            return nil
        }
        let user = nonEmpty("username", &context), password = nonEmpty("password", &context)
        guard let user, let password else { return nil }
        return .basic(username: user, password: password)
    }

    // MARK: images

    mutating func decodeImages(_ node: Node, registries: [Registry], declared: [String]?) -> [ImageEntry] {
        guard let items = context.sequence(node, "'images'") else { return [] }
        if items.isEmpty { context.error(node.location, "'images' must list at least one image") }
        var out: [ImageEntry] = []
        for (index, item) in items.enumerated() {
            if let entry = decodeImage(item, index: index, declared: declared) { out.append(entry) }
        }
        checkDestinations(out, registries: registries)
        return out
    }

    mutating func decodeImage(_ node: Node, index: Int, declared: [String]?) -> ImageEntry? {
        let what = "image #\(index + 1)"
        guard let f = context.fields(node, in: what, known: Self.imageKeys, required: ["source", "repository", "targets"]) else {
            return nil
        }
        var ok = true

        var sourceText: String?
        var source: SourceSpec?
        if let n = f["source"], let text = context.string(n, "'source' of \(what)") {
            sourceText = text
            switch SourceSpec.parse(text, relativeTo: directory) {
            case .success(let s): source = s
            case .failure(let e): context.error(n.location, "'source' of \(what): \(e)")
            }
        }

        var repository: String?
        if let n = f["repository"], let text = context.string(n, "'repository' of \(what)") {
            do throws(ReferenceError) {
                try RepositoryName.validate(text)
                repository = text
            } catch {
                context.error(n.location, "'repository' of \(what): \(error)")
            }
        }

        var tags: TagSpec = .fromSource
        if let n = f["tags"] {
            if let t = decodeTags(n, what: what, source: source) { tags = t } else { ok = false }
        } else if let source, source.certainlyHasNoTag {
            if case .registry = source {
                context.error(
                    f.location,
                    "\(what) has no 'tags' and its source names no tag; add ':TAG' to the source, list 'tags', or use a tag selector")
            } else if let ref = source.ociRefName {
                // Located at the REF's `source:` (the fix is there or in a `tags:` list).
                context.error(
                    f["source"]?.location ?? f.location,
                    "\(what) has no 'tags' and its source REF '\(ref)' names no tag (a tag follows the last ':', as in 'team/app:1.4', and matches [A-Za-z0-9_][A-Za-z0-9._-]{0,127}); list 'tags'"
                )
            } else {
                context.error(f.location, "\(what) has no 'tags' and its source is selected by digest, which carries no tag; list 'tags'")
            }
            ok = false
        }

        var targets: [String] = []
        if let n = f["targets"], let list = context.stringList(n, "'targets' of \(what)") {
            if list.isEmpty && n.sequence?.isEmpty == true {
                context.error(n.location, "'targets' of \(what) must name at least one registry")
                ok = false
            }
            for (name, location) in list {
                if targets.contains(name) {
                    context.error(location, "registry '\(name)' is listed twice in 'targets' of \(what)")
                    ok = false
                } else if let declared, !declared.contains(name) {
                    var message = "unknown registry '\(name)' in 'targets' of \(what)"
                    if let hint = Suggestions.closest(to: name, among: declared) {
                        message += "; did you mean '\(hint)'?"
                    } else if !declared.isEmpty {
                        message += " (registries: \(declared.joined(separator: ", ")))"
                    }
                    context.error(location, message)
                    ok = false
                } else {
                    targets.append(name)
                }
            }
        } else {
            ok = false
        }

        var platforms: [PlatformSelector]?
        if let n = f["platforms"] {
            platforms = decodePlatforms(n, "'platforms' of \(what)")
            if platforms == nil { ok = false }
        }
        var referrers: ReferrerSelection?
        if let n = f["referrers"] {
            referrers = decodeReferrers(n, "'referrers' of \(what)")
            if referrers == nil { ok = false }
        }
        var verify: VerifySpec?
        if let n = f["verify"] {
            verify = decodeVerify(n, "'verify' of \(what)")
            if verify == nil { ok = false }
        }
        var sign: SignSpec?
        if let n = f["sign"] {
            sign = decodeSign(n, "'sign' of \(what)")
            if sign == nil { ok = false }
        }

        guard ok, let sourceText, let source, let repository else { return nil }
        return ImageEntry(
            index: index, location: node.location, sourceText: sourceText, source: source,
            repository: repository, tags: tags, targets: targets, platforms: platforms, referrers: referrers,
            verify: verify, sign: sign)
    }

    mutating func decodeTags(_ node: Node, what: String, source: SourceSpec?) -> TagSpec? {
        if node.mapping != nil {
            var selectorAllowed = true
            if let source {
                if case .registry(let ref) = source {
                    selectorAllowed = ref.tag == nil && ref.digest == nil
                } else {
                    selectorAllowed = false
                }
            }
            if !selectorAllowed {
                context.error(
                    node.location, "a tag selector is only for docker:// sources without a tag or digest; list the tags of \(what) instead")
            }
            let selector = decodeSelector(node, what: what)
            guard selectorAllowed, let selector else { return nil }
            return .selector(selector)
        }
        guard node.sequence != nil else {
            context.error(node.location, "'tags' of \(what) must be a list of tags or a selector mapping, found \(node.kindDescription)")
            return nil
        }
        guard let list = context.stringList(node, "'tags' of \(what)") else { return nil }
        // Items that failed (e.g. an unset variable) are already reported; check the others too.
        var ok = list.count == node.sequence?.count
        if list.isEmpty && ok {
            context.error(node.location, "'tags' of \(what) is empty; list at least one tag or omit 'tags' to use the source's own tag")
            return nil
        }
        var seen: Set<String> = []
        for (tag, location) in list {
            if !Self.isValidTag(tag) {
                context.error(location, "invalid tag '\(tag)' in \(what): a tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
                ok = false
            } else if !seen.insert(tag).inserted {
                context.error(location, "tag '\(tag)' is listed twice in \(what)")
                ok = false
            }
        }
        return ok ? .list(list.map(\.0)) : nil
    }

    mutating func decodeSelector(_ node: Node, what: String) -> TagSelector? {
        guard let f = context.fields(node, in: "the tag selector of \(what)", known: Self.selectorKeys) else { return nil }
        var ok = true
        var selector = TagSelector()
        if let n = f["match"] {
            if let pattern = context.string(n, "'tags.match' of \(what)") {
                if let problem = TagSelection.compileProblem(pattern) {
                    context.error(n.location, "'tags.match' of \(what) is not a valid regular expression: \(problem)")
                    ok = false
                } else {
                    selector.match = pattern
                }
            } else {
                ok = false
            }
        }
        if let n = f["exclude"] {
            if let list = context.stringList(n, "'tags.exclude' of \(what)"), list.count == n.sequence?.count {
                for (pattern, location) in list {
                    if let problem = TagSelection.compileProblem(pattern) {
                        context.error(location, "'tags.exclude' of \(what) holds an invalid regular expression: \(problem)")
                        ok = false
                    } else {
                        selector.exclude.append(pattern)
                    }
                }
            } else {
                ok = false
            }
        }
        if let n = f["prerelease"] {
            if let v = context.bool(n, "'tags.prerelease' of \(what)") { selector.prerelease = v } else { ok = false }
        }
        if let n = f["semver"] {
            if let text = context.string(n, "'tags.semver' of \(what)") {
                do throws(SemverRangeError) {
                    _ = try SemverRange(parsing: text)
                    selector.semver = text
                } catch {
                    context.error(n.location, "'tags.semver' of \(what): \(error)")
                    ok = false
                }
            } else {
                ok = false
            }
        }
        if let n = f["latest"] {
            if let v = context.int(n, "'tags.latest' of \(what)", range: 1...Int(Int32.max)) { selector.latest = v } else { ok = false }
        }
        return ok ? selector : nil
    }

    /// Two entries must not push the same tag to the same repository of the same registry, and a
    /// target's full name (host/repository) must fit distribution's 255-character limit.
    mutating func checkDestinations(_ images: [ImageEntry], registries: [Registry]) {
        var owners: [String: ImageEntry] = [:]
        for image in images {
            for target in image.targets {
                guard let registry = registries.first(where: { $0.name == target }) else { continue }
                let repository = registry.apiRepository(image.repository)
                let host = registry.isDockerHub ? ImageReference.dockerHubDomain : registry.url.hostPort
                let fullLength = host.utf8.count + 1 + repository.utf8.count
                if fullLength > ImageReference.nameTotalLengthMax {
                    context.error(
                        image.location,
                        "image #\(image.index + 1): '\(host)/\(repository)' is \(fullLength) characters long; distribution allows at most \(ImageReference.nameTotalLengthMax)"
                    )
                }
                guard case .list(let tags) = image.tags else { continue }
                for tag in tags {
                    let key = "\(target)\u{0}\(repository)\u{0}\(tag)"
                    if let other = owners[key] {
                        context.error(
                            image.location,
                            "image #\(image.index + 1) pushes '\(repository):\(tag)' to registry '\(target)', as image #\(other.index + 1) (line \(other.location.line)) already does"
                        )
                    } else {
                        owners[key] = image
                    }
                }
            }
        }
    }
}

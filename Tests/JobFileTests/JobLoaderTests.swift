import Testing
import OCI
@testable import JobFile

@Suite struct JobLoaderTests {
    @Test func validJobDecodesEveryField() throws {
        let text = """
            version: 1
            name: release
            defaults:
              concurrency: 8
              images: 3
              retries: 2
            registries:
              prod:
                url: https://Registry.Example.com:8443/
                mirrors: [https://dr.example.com]
                ca: certs/ca.pem
                cert: ../certs/client.pem
                key: /etc/pushctl/client-key.pem
                auth: {username: bot, password: s3cret}
              lab:
                url: http://127.0.0.1:5000
                insecure: true
                auth: {token: tok}
            images:
              - source: oci:build/app:1.4.2
                repository: team/app
                tags: ["1.4.2", latest]
                targets: [prod, lab]
              - source: docker://alpine
                repository: mirror/alpine
                tags: {match: '3\\..*', exclude: ['.*rc.*'], semver: '>=3.18', latest: 2}
                targets: [lab]
            """
        let job = try loadJob(text).get()
        #expect(job.name == "release")
        #expect(job.version == 1)
        #expect(job.defaults == Defaults(concurrency: 8, images: 3, retries: 2))
        #expect(job.registries.map(\.name) == ["prod", "lab"])
        let prod = try #require(job.registry(named: "prod"))
        #expect(prod.url == RegistryURL(scheme: .https, host: "registry.example.com", port: 8443))
        #expect(prod.mirrors.map(\.string) == ["https://dr.example.com"])
        #expect(prod.ca == "/jobs/certs/ca.pem")
        #expect(prod.cert == "/certs/client.pem")
        #expect(prod.key == "/etc/pushctl/client-key.pem")
        #expect(prod.auth == .basic(username: "bot", password: "s3cret"))
        #expect(!prod.insecure)
        let lab = try #require(job.registry(named: "lab"))
        #expect(lab.insecure)
        #expect(lab.auth == .token("tok"))
        #expect(job.images.count == 2)
        #expect(job.images[0].source == .ociLayout(path: "/jobs/build/app", ref: .name("1.4.2")))
        #expect(job.images[0].tags == .list(["1.4.2", "latest"]))
        #expect(job.images[0].targets == ["prod", "lab"])
        #expect(job.images[1].tags == .selector(TagSelector(match: "3\\..*", exclude: [".*rc.*"], semver: ">=3.18", latest: 2)))
        #expect(job.directory == "/jobs")
        #expect(job.fileDigest == Digest.of(Array(text.utf8)))
        #expect(job.filePath == "/jobs/test.yaml")
    }

    @Test func defaultsApplyWhenOmitted() throws {
        let job = try loadJob(job()).get()
        #expect(job.defaults == Defaults(concurrency: 5, images: 2, retries: 5))
        #expect(job.images[0].index == 0)
    }

    @Test func credentialsAreRedactedInDescriptions() {
        let auth = Auth.basic(username: "bot", password: "hunter2")
        #expect(!"\(auth)".contains("hunter2"))
        #expect(!String(reflecting: auth).contains("hunter2"))
        #expect(!"\(Auth.token("tok-123"))".contains("tok-123"))
    }

    // MARK: top level

    @Test func rootMustBeAMapping() {
        #expect(problems("- a\n- b\n") == ["1:1: the job file must be a mapping, found a sequence"])
    }

    @Test func emptyFileIsAnError() {
        #expect(problems("# nothing\n") == ["1:1: the job file is empty"])
    }

    @Test func yamlSyntaxErrorIsLocated() {
        let p = problems("version: 1\nname: [x\n")
        #expect(p.count == 1)
        #expect(p.first?.contains("YAML syntax error") == true)
    }

    @Test func missingRequiredKeysAreAllReported() {
        #expect(
            problems("defaults: {}\n") == [
                "1:1: the job file is missing the required key 'version'",
                "1:1: the job file is missing the required key 'name'",
                "1:1: the job file is missing the required key 'registries'",
                "1:1: the job file is missing the required key 'images'"
            ])
    }

    @Test func unknownTopLevelKeySuggestsTheClosest() {
        #expect(problems(job(extra: "imagez: []\n")) == ["3:1: unknown key 'imagez' in the job file; did you mean 'images'?"])
    }

    @Test func unknownKeyWithoutCloseMatchListsKnownKeys() {
        #expect(
            problems(job(extra: "colour: blue\n")) == [
                "3:1: unknown key 'colour' in the job file (known keys: version, name, defaults, registries, images, schedule, timezone)"
            ])
    }

    @Test func extensionKeysHoldAnchors() throws {
        let text = job(extra: "x-common: &t [prod]\n").replacingOccurrences(of: "targets: [prod]", with: "targets: *t")
        #expect(try loadJob(text).get().images[0].targets == ["prod"])
    }

    @Test func duplicateKeysAreErrors() {
        #expect(problems(job(extra: "name: again\n")) == ["3:1: duplicate key 'name' in the job file (first given at line 2)"])
    }

    @Test func versionMustBeOne() {
        #expect(
            problems(job().replacingOccurrences(of: "version: 1", with: "version: 2"))
                == ["1:10: unsupported job file version 2; this pushctl reads version 1"])
        #expect(
            problems(job().replacingOccurrences(of: "version: 1", with: "version: \"1\""))
                == ["1:10: 'version' must be an integer, found the string \"1\" (remove the quotes)"])
        #expect(
            problems(job().replacingOccurrences(of: "version: 1", with: "version: one"))
                == ["1:10: 'version' must be an integer, found 'one'"])
    }

    @Test(arguments: ["Release", "-x", ".x", "my job", "a/b", "é"])
    func jobNamePattern(_ name: String) {
        #expect(
            problems(job().replacingOccurrences(of: "name: test", with: "name: '\(name)'"))
                == ["2:7: job name '\(name)' must match [a-z0-9][a-z0-9._-]*"])
    }

    @Test(arguments: ["a", "0", "release-2.x_y"])
    func jobNamesAccepted(_ name: String) throws {
        #expect(try loadJob(job().replacingOccurrences(of: "name: test", with: "name: \(name)")).get().name == name)
    }

    // MARK: defaults

    @Test(arguments: [
        ("concurrency", 0, "between 1 and 64"), ("concurrency", 65, "between 1 and 64"),
        ("images", 0, "between 1 and 32"), ("images", 33, "between 1 and 32"),
        ("retries", 0, "between 1 and 20"), ("retries", 21, "between 1 and 20")
    ])
    func defaultsRanges(key: String, value: Int, range: String) {
        #expect(
            problems(job(extra: "defaults: {\(key): \(value)}\n"))
                == ["3:\(12 + key.count + 2): 'defaults.\(key)' must be \(range), found \(value)"])
    }

    @Test func defaultsBoundsAccepted() throws {
        let j = try loadJob(job(extra: "defaults: {concurrency: 64, images: 32, retries: 20}\n")).get()
        #expect(j.defaults == Defaults(concurrency: 64, images: 32, retries: 20))
        let k = try loadJob(job(extra: "defaults: {concurrency: 1, images: 1, retries: 1}\n")).get()
        #expect(k.defaults == Defaults(concurrency: 1, images: 1, retries: 1))
    }

    @Test func defaultsTypesAndKeys() {
        #expect(
            problems(job(extra: "defaults: {retries: 2.5, imgaes: 2}\n")) == [
                "3:21: 'defaults.retries' must be an integer, found '2.5'",
                "3:26: unknown key 'imgaes' in 'defaults'; did you mean 'images'?"
            ])
        #expect(problems(job(extra: "defaults: [1]\n")) == ["3:11: 'defaults' must be a mapping, found a sequence"])
    }

    // MARK: registries

    @Test func registriesMustBeANonEmptyMapping() {
        let empty = """
            version: 1
            name: test
            registries: {}
            images:
              - {source: "oci:a:1", repository: a, targets: [prod]}
            """
        // Unknown targets are not reported on top of the real problem.
        #expect(problems(empty) == ["3:13: 'registries' must name at least one registry"])
        let list = empty.replacingOccurrences(of: "registries: {}", with: "registries: [prod]")
        #expect(problems(list) == ["3:13: 'registries' must be a mapping of registry name to registry, found a sequence"])
    }

    @Test func registryNamesAndDuplicates() {
        let text = """
            version: 1
            name: test
            registries:
              bad name: {url: https://a.example.com}
              prod: {url: https://b.example.com}
              prod: {url: https://c.example.com}
            images:
              - {source: "oci:a:1", repository: a, targets: [prod]}
            """
        #expect(
            problems(text) == [
                "4:3: registry name 'bad name' must match [A-Za-z0-9][A-Za-z0-9._-]*",
                "6:3: duplicate registry 'prod' (first defined at line 5)"
            ])
    }

    @Test func urlIsRequired() {
        #expect(problems(job(registry: "    insecure: true")) == ["5:5: registry 'prod' is missing the required key 'url'"])
    }

    @Test(arguments: [
        ("registry.example.com", "has no scheme"),
        ("ftp://registry.example.com", "unsupported scheme 'ftp://'"),
        ("https://registry.example.com/v2", "has no path ('/v2')"),
        ("https://registry.example.com?x=1", "no query or fragment"),
        ("https://user:pw@registry.example.com", "credentials are not allowed"),
        ("https://registry.example.com:0", "invalid port '0'"),
        ("https://registry.example.com:70000", "invalid port '70000'"),
        ("https://-bad.example.com", "not a valid host"),
        ("https://", "has no host")
    ])
    func urlForm(url: String, expected: String) {
        let p = problems(job(registry: "    url: \"\(url)\""))
        #expect(p.count == 1)
        #expect(p.first?.hasPrefix("5:10: 'url' of registry 'prod': ") == true)
        #expect(p.first?.contains(expected) == true, "\(p)")
        #expect(p.first?.contains("pw@") == false)
    }

    @Test func plainHTTPNeedsInsecureExceptOnLoopback() {
        #expect(
            problems(job(registry: "    url: http://registry.example.com")) == [
                "5:10: plain-http endpoint 'http://registry.example.com' of registry 'prod' needs 'insecure: true' (only loopback addresses may use http:// without it)"
            ])
        #expect(
            problems(job(registry: "    url: https://a.example.com\n    mirrors: [\"http://10.0.0.1:5000\"]")) == [
                "6:15: plain-http endpoint 'http://10.0.0.1:5000' of registry 'prod' needs 'insecure: true' (only loopback addresses may use http:// without it)"
            ])
        for loopback in ["http://localhost:5000", "http://127.0.0.1", "http://127.10.20.30:5000", "http://[::1]:5000"] {
            #expect(problems(job(registry: "    url: \"\(loopback)\"")) == [], "\(loopback)")
        }
        #expect(problems(job(registry: "    url: http://registry.example.com\n    insecure: true")) == [])
        #expect(problems(job(registry: "    url: http://128.0.0.1\n")).count == 1)
    }

    @Test func endpointsMustBeDistinct() {
        #expect(
            problems(job(registry: "    url: https://a.example.com\n    mirrors: [https://a.example.com/]")) == [
                "6:15: endpoint 'https://a.example.com' is listed twice in registry 'prod' (also at line 5)"
            ])
    }

    @Test func insecureMustBeBoolean() {
        #expect(
            problems(job(registry: "    url: https://a.example.com\n    insecure: yes")) == [
                "6:15: 'insecure' of registry 'prod' must be true or false, found 'yes'"
            ])
    }

    @Test func certAndKeyGoTogether() {
        #expect(
            problems(job(registry: "    url: https://a.example.com\n    cert: c.pem")) == [
                "6:11: registry 'prod' has 'cert' without 'key'; a client certificate needs its key (both or neither)"
            ])
        #expect(
            problems(job(registry: "    url: https://a.example.com\n    key: k.pem")) == [
                "6:10: registry 'prod' has 'key' without 'cert'; a client key needs its certificate (both or neither)"
            ])
    }

    @Test func authForms() {
        func auth(_ a: String) -> [String] { problems(job(registry: "    url: https://a.example.com\n    auth: \(a)")) }
        #expect(
            auth("{username: u, password: p, token: t}") == [
                "6:11: 'auth' of registry 'prod' takes either 'username' + 'password' or 'token', not both"
            ])
        #expect(auth("{username: u}") == ["6:11: 'auth' of registry 'prod' has 'username' without 'password'"])
        #expect(auth("{password: p}") == ["6:11: 'auth' of registry 'prod' has 'password' without 'username'"])
        #expect(auth("{}") == ["6:11: 'auth' of registry 'prod' needs 'username' + 'password' or 'token'"])
        #expect(auth("{username: u, password: ''}") == ["6:35: 'auth.password' of registry 'prod' is empty"])
        #expect(
            auth("{user: u, password: p}") == [
                "6:11: 'auth' of registry 'prod' has 'password' without 'username'",
                "6:12: unknown key 'user' in 'auth' of registry 'prod'; did you mean 'username'?"
            ])
        #expect(auth("{token: t}") == [])
    }

    // MARK: images

    @Test func imagesMustBeANonEmptyList() {
        let none = job(image: "  []")
        #expect(problems(none) == ["7:3: 'images' must list at least one image"])
        #expect(problems(job(image: "  source: x")) == ["7:3: 'images' must be a list, found a mapping"])
    }

    @Test func imageRequiredKeys() {
        #expect(
            problems(job(image: "  - {tags: [a]}")) == [
                "7:5: image #1 is missing the required key 'source'",
                "7:5: image #1 is missing the required key 'repository'",
                "7:5: image #1 is missing the required key 'targets'"
            ])
    }

    @Test func unknownImageKey() {
        #expect(
            problems(job(image: "  - {source: 'oci:a:1', repository: a, targets: [prod], tag: [x]}")) == [
                "7:57: unknown key 'tag' in image #1; did you mean 'tags'?"
            ])
    }

    @Test func sourceErrorsAreLocated() {
        let p = problems(job(image: "  - {source: 'docker://Alpine', repository: a, tags: [x], targets: [prod]}"))
        #expect(p == ["7:14: 'source' of image #1: invalid reference \"Alpine\": repository name \"library/Alpine\" must be lowercase"])
    }

    @Test func repositoryRules() {
        #expect(
            problems(job(image: "  - {source: 'oci:a:1', repository: team//app, targets: [prod]}")) == [
                "7:37: 'repository' of image #1: invalid reference \"team//app\": empty path component (check for a leading, trailing or doubled '/')"
            ])
    }

    @Test func tagListRules() {
        #expect(
            problems(job(image: "  - {source: 'oci:a:1', repository: a, tags: [ok, 'no space', ok, .dot], targets: [prod]}")) == [
                "7:51: invalid tag 'no space' in image #1: a tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}",
                "7:63: tag 'ok' is listed twice in image #1",
                "7:67: invalid tag '.dot' in image #1: a tag must match [A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
            ])
        #expect(
            problems(job(image: "  - {source: 'oci:a:1', repository: a, tags: [], targets: [prod]}")) == [
                "7:46: 'tags' of image #1 is empty; list at least one tag or omit 'tags' to use the source's own tag"
            ])
        #expect(
            problems(job(image: "  - {source: 'oci:a:1', repository: a, tags: latest, targets: [prod]}")) == [
                "7:46: 'tags' of image #1 must be a list of tags or a selector mapping, found a scalar"
            ])
        let long = String(repeating: "t", count: 129)
        #expect(problems(job(image: "  - {source: 'oci:a:1', repository: a, tags: [\(long)], targets: [prod]}")).count == 1)
    }

    @Test func numericLookingTagsKeepTheirText() throws {
        let j = try loadJob(job(image: "  - {source: 'oci:a:1', repository: a, tags: [1.10, 3], targets: [prod]}")).get()
        #expect(j.images[0].tags == .list(["1.10", "3"]))
    }

    @Test func omittedTagsNeedASourceTag() throws {
        #expect(
            problems(job(image: "  - {source: 'docker://alpine', repository: a, targets: [prod]}")) == [
                "7:5: image #1 has no 'tags' and its source names no tag; add ':TAG' to the source, list 'tags', or use a tag selector"
            ])
        #expect(
            problems(job(image: "  - {source: 'oci:dir@sha256:\(String(repeating: "a", count: 64))', repository: a, targets: [prod]}")) == [
                "7:5: image #1 has no 'tags' and its source is selected by digest, which carries no tag; list 'tags'"
            ])
        let j = try loadJob(job(image: "  - {source: 'docker://alpine:3.19', repository: a, targets: [prod]}")).get()
        #expect(j.images[0].tags == .fromSource)
        #expect(j.images[0].source.ownTag == "3.19")
        // An OCI layout without REF may hold a single ref.name: known only when it is read.
        #expect(try loadJob(job(image: "  - {source: 'oci:dir', repository: a, targets: [prod]}")).get().images[0].tags == .fromSource)
    }

    @Test func selectorOnlyForUntaggedRegistrySources() {
        let message = "a tag selector is only for docker:// sources without a tag or digest; list the tags of image #1 instead"
        for source in [
            "oci:dir", "oci-archive:a.tar", "docker-archive:a.tar", "docker://alpine:3",
            "docker://alpine@sha256:\(String(repeating: "a", count: 64))"
        ] {
            #expect(
                problems(job(image: "  - {source: '\(source)', repository: a, tags: {latest: 1}, targets: [prod]}")).contains {
                    $0.hasSuffix(message)
                }, "\(source)")
        }
        #expect(problems(job(image: "  - {source: 'docker://alpine', repository: a, tags: {latest: 1}, targets: [prod]}")) == [])
    }

    @Test func selectorRules() {
        func selector(_ s: String) -> [String] {
            problems(job(image: "  - source: docker://alpine\n    repository: a\n    tags: \(s)\n    targets: [prod]"))
        }
        #expect(
            selector("{match: '('}") == [
                "9:19: 'tags.match' of image #1 is not a valid regular expression: '(' does not compile (ICU regular expression syntax)"
            ])
        #expect(
            selector("{exclude: [ok, '[']}") == [
                "9:26: 'tags.exclude' of image #1 holds an invalid regular expression: '[' does not compile (ICU regular expression syntax)"
            ])
        #expect(
            selector("{semver: '>=banana'}") == [
                "9:20: 'tags.semver' of image #1: invalid semver range '>=banana': '>=banana' is not a version comparator"
            ])
        #expect(selector("{latest: 0}") == ["9:20: 'tags.latest' of image #1 must be at least 1, found 0"])
        #expect(selector("{latset: 2}") == ["9:12: unknown key 'latset' in the tag selector of image #1; did you mean 'latest'?"])
        #expect(selector("{match: '3\\.[0-9]+', exclude: ['.*-rc.*'], semver: '>=3.18 <4 || 5.x', latest: 3}") == [])
    }

    @Test func selectorPrereleaseKey() throws {
        func loaded(_ s: String, environment: [String: String] = [:]) -> Result<Job, JobFileErrors> {
            loadJob(
                job(image: "  - source: docker://alpine\n    repository: a\n    tags: \(s)\n    targets: [prod]"), environment: environment)
        }
        #expect(try loaded("{latest: 1, prerelease: true}").get().images[0].tags == .selector(TagSelector(latest: 1, prerelease: true)))
        #expect(try loaded("{latest: 1}").get().images[0].tags == .selector(TagSelector(latest: 1, prerelease: false)))
        #expect(
            try loaded("{semver: '>=1', prerelease: '${PRE:-false}'}", environment: ["PRE": "true"]).get().images[0].tags
                == .selector(TagSelector(semver: ">=1", prerelease: true)))
        #expect(
            problems(
                job(image: "  - source: docker://alpine\n    repository: a\n    tags: {latest: 1, prerelease: yes}\n    targets: [prod]"))
                == ["9:35: 'tags.prerelease' of image #1 must be true or false, found 'yes'"])
        #expect(
            problems(
                job(image: "  - source: docker://alpine\n    repository: a\n    tags: {latest: 1, prerelase: true}\n    targets: [prod]"))
                == ["9:23: unknown key 'prerelase' in the tag selector of image #1; did you mean 'prerelease'?"])
    }

    @Test func targetsRules() {
        func targets(_ t: String) -> [String] {
            problems(job(image: "  - {source: 'oci:a:1', repository: a, targets: \(t)}"))
        }
        #expect(targets("[prdo]") == ["7:50: unknown registry 'prdo' in 'targets' of image #1; did you mean 'prod'?"])
        #expect(targets("[elsewhere]") == ["7:50: unknown registry 'elsewhere' in 'targets' of image #1 (registries: prod)"])
        #expect(targets("[prod, prod]") == ["7:56: registry 'prod' is listed twice in 'targets' of image #1"])
        #expect(targets("[]") == ["7:49: 'targets' of image #1 must name at least one registry"])
        #expect(targets("prod") == ["7:49: 'targets' of image #1 must be a list, found a scalar"])
    }

    @Test func sameTagTwiceToTheSameDestinationIsAnError() {
        let images = """
              - {source: 'oci:a:1', repository: team/app, tags: ["1", "2"], targets: [prod]}
              - {source: 'oci:b:1', repository: team/app, tags: ["2"], targets: [prod]}
            """
        #expect(
            problems(job(image: images)) == [
                "8:5: image #2 pushes 'team/app:2' to registry 'prod', as image #1 (line 7) already does"
            ])
    }

    @Test func dockerHubOneWordRepositoriesCollideWithLibrary() {
        let text = job(
            registry: "    url: https://docker.io",
            image: """
                  - {source: 'oci:a:1', repository: app, tags: ["1"], targets: [prod]}
                  - {source: 'oci:b:1', repository: library/app, tags: ["1"], targets: [prod]}
                """)
        #expect(problems(text) == ["8:5: image #2 pushes 'library/app:1' to registry 'prod', as image #1 (line 7) already does"])
    }

    @Test func fullNameLengthIncludesTheRegistryHost() {
        let repo = String(repeating: "a", count: 240)
        let p = problems(job(image: "  - {source: 'oci:a:1', repository: \(repo), targets: [prod]}"))
        #expect(p == ["7:5: image #1: 'registry.example.com/\(repo)' is 261 characters long; distribution allows at most 255"])
    }

    // MARK: all problems at once

    @Test func everyProblemIsReportedInFileOrder() {
        let text = """
            version: 3
            name: Bad
            defaults: {retries: 99}
            registries:
              prod: {url: "http://example.com/x"}
            images:
              - {source: 'nope', repository: A, tags: ['!'], targets: [prd]}
            """
        let p = problems(text)
        #expect(p.count == 8)
        #expect(p.map { Int($0.prefix { $0 != ":" })! } == [1, 2, 3, 5, 7, 7, 7, 7])
    }

    @Test func loadingAMissingFileIsALocatedError() {
        guard case .failure(let e) = JobLoader.load(path: "/nonexistent/job.yaml", environment: [:]) else {
            Issue.record("expected failure"); return
        }
        #expect(e.description == "/nonexistent/job.yaml:1:1: error: cannot read job file: No such file or directory")
    }
}

@Suite struct MergeKeyTests {
    @Test func mergeKeysFillInUnsetKeys() throws {
        let text = """
            version: 1
            name: merge
            x-registry: &common
              insecure: true
              mirrors: [https://dr.example.com]
            registries:
              a:
                <<: *common
                url: https://a.example.com
              b:
                <<: *common
                url: https://b.example.com
                insecure: false
            images:
              - {source: 'oci:a:1', repository: a, targets: [a, b]}
            """
        let job = try loadJob(text).get()
        #expect(job.registries.map(\.insecure) == [true, false])
        #expect(job.registries.map { $0.mirrors.map(\.string) } == [["https://dr.example.com"], ["https://dr.example.com"]])
    }

    @Test func mergeKeyNeedsAMapping() {
        let text = job(registry: "    <<: 5\n    url: https://a.example.com")
        #expect(problems(text) == ["5:9: a merge key '<<' takes a mapping or a list of mappings (usually '*anchor')"])
    }
}

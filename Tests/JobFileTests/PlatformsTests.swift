import JobFile
import OCI
import Testing

/// `platforms:` on an image and in `defaults` (README "Platform filtering").
struct PlatformsTests {
    @Test func imagePlatformsOverrideDefaults() throws {
        let loaded = try loadJob(
            job(
                image: """
                      - source: oci:build/app:1.0
                        repository: team/app
                        tags: ["1.0"]
                        targets: [prod]
                        platforms: [linux/amd64, linux/arm64/v8]
                      - source: oci:build/app:1.0
                        repository: team/other
                        tags: ["1.0"]
                        targets: [prod]
                    """, extra: "defaults: {platforms: [linux/s390x]}\n")
        ).get()
        #expect(loaded.platforms(of: loaded.images[0])?.map(\.description) == ["linux/amd64", "linux/arm64/v8"])
        #expect(loaded.platforms(of: loaded.images[1])?.map(\.description) == ["linux/s390x"])
        let plain = try loadJob(job()).get()
        #expect(plain.platforms(of: plain.images[0]) == nil)
    }

    @Test func invalidPlatformsAreLocatedErrors() {
        #expect(
            problems(
                job(
                    image: """
                          - source: oci:build/app:1.0
                            repository: team/app
                            targets: [prod]
                            platforms: [linux, Linux/AMD64, linux/arm/v7/x, linux/amd64, linux/amd64]
                        """)) == [
                    "10:17: invalid platform 'linux' in 'platforms' of image #1: write os/architecture[/variant] in lower case, e.g. linux/arm64/v8",
                    "10:24: invalid platform 'Linux/AMD64' in 'platforms' of image #1: write os/architecture[/variant] in lower case, e.g. linux/arm64/v8",
                    "10:37: invalid platform 'linux/arm/v7/x' in 'platforms' of image #1: write os/architecture[/variant] in lower case, e.g. linux/arm64/v8",
                    "10:66: platform 'linux/amd64' is listed twice in 'platforms' of image #1"
                ])
        #expect(problems(job(extra: "defaults: {platforms: []}\n")).count == 1)
    }

    @Test func matchingNormalizesArm64() {
        let arm64v8 = PlatformSelector.parse("linux/arm64/v8")!
        #expect(arm64v8.matches(Platform(architecture: "arm64", os: "linux")))
        #expect(arm64v8.matches(Platform(architecture: "arm64", os: "linux", variant: "v8")))
        #expect(!arm64v8.matches(Platform(architecture: "amd64", os: "linux")))
        let arm = PlatformSelector.parse("linux/arm")!
        #expect(arm.matches(Platform(architecture: "arm", os: "linux", variant: "v7")))
        #expect(!PlatformSelector.parse("linux/arm/v6")!.matches(Platform(architecture: "arm", os: "linux", variant: "v7")))
    }
}

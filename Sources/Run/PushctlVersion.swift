/// The version recorded with every run and printed by `pushctl --version`.
public enum PushctlVersion {
    public static let current = "0.1.0"
}

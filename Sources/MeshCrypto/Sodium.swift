import CSodium

/// libsodium must be initialised once before use (it picks CPU-specific implementations).
public enum Sodium {
    public static let isReady: Bool = sodium_init() >= 0
}

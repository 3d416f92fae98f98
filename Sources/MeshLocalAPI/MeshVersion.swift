/// The one version string of this build: `meshd --version`, `meshctl --version`,
/// `meshctl version` and the local API's `version` answer all print it, so a meshctl and the
/// meshd it talks to can tell whether they come from the same release.
public enum MeshVersion {
    public static let string = "0.1.0"
}

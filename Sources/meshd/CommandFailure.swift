/// A failure reported to the user as one clear line, without the usage text that
/// ArgumentParser adds to validation errors (the command line was fine; the world was not).
struct CommandFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

import Hummingbird
import NIOCore

/// The node API's request context: Hummingbird's basic one plus the request's connection, so
/// a long-poll can notice its client going away (`ClientDisconnect`) instead of holding a dead
/// node "online" until its keep-alive runs out.
struct NodeRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

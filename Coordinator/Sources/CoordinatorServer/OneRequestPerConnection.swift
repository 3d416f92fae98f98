import Hummingbird
import HTTPTypes

/// Every node API answer says `Connection: close`. The relay upgrade is recognised only as the
/// first request of a connection (it shares the port with the API, see `RelayPortSharing`), and a
/// reverse proxy that keeps upstream connections alive (Caddy does by default, nginx with
/// `keepalive`) would otherwise send a node's `GET /relay` on a connection that already carried
/// an API request, where it is a 404, and would reuse connections the coordinator's deadlines
/// close. Nodes open one connection per request anyway, so nothing is lost; a proxy pays one
/// TCP connect on its own network per request.
struct OneRequestPerConnectionMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        var response = try await next(request, context)
        response.headers[.connection] = "close"
        return response
    }
}

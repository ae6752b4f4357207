import Crypto
import Fluent
import Foundation
import SQLKit
import Vapor
import VigilCore

extension JSONValue: AsyncResponseEncodable {
    public func encodeResponse(for request: Request) async throws -> Response {
        jsonResponse(self)
    }
}

func jsonResponse(_ value: JSONValue, status: HTTPResponseStatus = .ok, location: String? = nil) -> Response {
    var headers: HTTPHeaders = ["Content-Type": "application/json; charset=utf-8"]
    if let location { headers.add(name: .location, value: location) }
    return Response(status: status, headers: headers, body: .init(string: value.serialized(pretty: true)))
}

func page(_ items: [JSONValue], limit: Int, next: [String]?) -> JSONValue {
    .object(["data": .array(items), "next_cursor": next.map { .string(Cursor.encode($0)) } ?? .null])
}

/// Reads a JSON request body: only `application/json`, and only valid JSON.
func jsonBody(_ req: Request) throws -> JSONValue {
    try JSONValue.parse(jsonBodyText(req))
}

/// A JSON request body's text, not parsed yet: only `application/json`, and not empty.
func jsonBodyText(_ req: Request) throws -> Data {
    guard let type = req.headers.contentType, type.type == "application", type.subType == "json" else {
        throw Refusal(.unsupportedMediaType, "refusal_send_body_as_application_json")
    }
    guard let buffer = req.body.data, buffer.readableBytes > 0 else {
        throw Refusal(.badRequest, "refusal_request_body_empty_send_json")
    }
    return Data(buffer: buffer)
}

/// API tokens: `Authorization: Bearer vgl_…`. Only a SHA-256 of each token is stored.
enum APIToken {
    static func hash(_ token: String) -> String {
        Hex.string(SHA256.hash(data: Data(token.utf8)))
    }

    static func generate() -> String {
        var bytes = [UInt8](repeating: 0, count: 32)
        var rng = SystemRandomNumberGenerator()
        for i in bytes.indices { bytes[i] = UInt8.random(in: 0...255, using: &rng) }
        let b64 = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "vgl_" + b64
    }

    /// Tokens made on the command line name their role; a token made in the newsroom acts with
    /// its maker's roles at each use. Publishers' tokens publish.
    static let roles = ["publisher", "admin"]
    /// In increasing power: read < write < import.
    static let scopes = ["read", "write", "import"]

    /// Creates a token (made on the command line, or by the editor `createdBy`) and returns it
    /// with its id; only its hash is kept.
    static func create(role: String, scope: String = "import", days: Int = 90, label: String?, createdBy: UUID? = nil,
                       on db: any Database, now: Date = Date()) async throws -> (token: String, id: UUID) {
        let token = generate()
        let row = APITokenModel()
        row.tokenHash = hash(token); row.role = role; row.label = label; row.createdAt = now; row.createdBy = createdBy
        row.scope = scope; row.expiresAt = now.addingTimeInterval(TimeInterval(days) * 86_400)
        try await row.create(on: db)
        return (token, row.id!)
    }

    /// Revokes the tokens an account made (on erasure or loss of its role); returns how many.
    @discardableResult
    static func revoke(madeBy supporter: UUID, on db: any Database, now: Date = Date()) async throws -> Int {
        let tokens = try await APITokenModel.query(on: db).filter(\.$createdBy == supporter).filter(\.$revokedAt == nil).all()
        for t in tokens { t.revokedAt = now; try await t.update(on: db) }
        return tokens.count
    }
}

/// Lets a request through only with a valid, unrevoked, unexpired editor (or admin) token
/// whose scope covers `scope`; every write made with a token is a security event.
struct EditorTokenMiddleware: AsyncMiddleware {
    var scope = "write"

    func respond(to request: Request, chainingTo next: any AsyncResponder) async throws -> Response {
        guard let bearer = request.headers.bearerAuthorization else {
            throw Refusal(.unauthorized, "refusal_endpoint_needs_publisher_s_api", headers: ["WWW-Authenticate": "Bearer"])
        }
        guard bearer.token.utf8.count <= 200 else {
            throw Refusal(.unauthorized, "refusal_api_token_not_valid", headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\""])
        }
        let row = try await APITokenModel.query(on: request.db)
            .filter(\.$tokenHash == APIToken.hash(bearer.token)).first()
        guard let row, row.revokedAt == nil else {
            request.securityLog.record("token.refused", ["reason": row == nil ? "unknown" : "revoked"])
            throw Refusal(.unauthorized, "refusal_api_token_not_valid_has", headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\""])
        }
        if let expiry = row.expiresAt, expiry <= Date() {
            request.securityLog.record("token.refused", ["token": row.id!.uuidString.lowercased(), "reason": "expired"])
            throw Refusal(.unauthorized, "refusal_api_token_has_expired_make", headers: ["WWW-Authenticate": "Bearer error=\"invalid_token\""])
        }
        // A token made in the newsroom acts with its maker's roles as they are now, narrowed by
        // its scope: a maker who is no longer a publisher (or lost the second factor) stops it.
        if let maker = row.createdBy {
            let account = try await SupporterModel.find(maker, on: request.db)
            guard let account, account.roles.contains(.publisher), account.hasSecondFactor else {
                request.securityLog.record("token.refused", ["token": row.id!.uuidString.lowercased(), "reason": "maker"])
                throw Refusal(.forbidden, "refusal_account_that_made_token_may")
            }
        } else if row.role != "publisher" {
            throw Refusal(.forbidden, "refusal_token_s_role_may_not", ["role": "\(row.role)"])
        }
        let have = APIToken.scopes.firstIndex(of: row.scope) ?? 0, need = APIToken.scopes.firstIndex(of: scope) ?? APIToken.scopes.count
        guard have >= need else {
            request.securityLog.record("token.refused", ["token": row.id!.uuidString.lowercased(), "reason": "scope", "scope": row.scope])
            throw Refusal(.forbidden, "refusal_token_s_scope_request_needs", ["scope": "\(row.scope)", "scope2": "\(scope)"], headers: ["WWW-Authenticate": "Bearer error=\"insufficient_scope\""])
        }
        request.storage[APITokenIDKey.self] = row.id!
        let response = try await next.respond(to: request)
        if request.method != .GET, request.method != .HEAD {
            request.securityLog.record("token.write", ["token": row.id!.uuidString.lowercased(), "method": request.method.rawValue,
                                                       "path": request.url.path, "status": String(response.status.code)])
        }
        return response
    }
}

struct APITokenIDKey: StorageKey { typealias Value = UUID }

extension Request {
    /// Who makes a publishing write through the API: the token that authorised the request.
    var publishingAuthor: Author {
        storage[APITokenIDKey.self].map(Author.token) ?? Author(kind: "api")
    }
}

import Fluent
import Foundation

/// `/unsubscribe?token=…`: one button that ends a follow (the signed token is the authority), or
/// word that it has already ended.
struct UnsubscribePage: TemplateModel {
    var token: String
    /// The follow no longer exists.
    var gone: Bool

    static let example = UnsubscribePage(token: "6F9619FF-8B86-D011-B42D-00C04FC964FF.q3v1M2x9lYwq4hJ8s0aTQk", gone: false)

    /// The page for a valid token of the follow `id`.
    static func load(token: String, follow id: UUID, on db: any Database) async throws -> UnsubscribePage {
        UnsubscribePage(token: token, gone: try await FollowModel.find(id, on: db) == nil)
    }
}

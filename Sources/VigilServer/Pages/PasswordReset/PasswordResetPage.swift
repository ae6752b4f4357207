import Foundation

/// `/password-reset`: asks for the address to send a reset link to.
struct PasswordResetPage: TemplateModel {
    var errors: [String] = []

    static let example = PasswordResetPage(errors: ["That is not an e-mail address."])
}

import Testing
@testable import VigilDocuments

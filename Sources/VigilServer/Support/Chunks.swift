extension Collection where Index == Int {
    /// The elements in consecutive pieces of `size` (the last may be shorter): how a query over
    /// many values keeps under the databases' limits on bound values a statement.
    func chunks(of size: Int) -> [SubSequence] {
        precondition(size > 0, "a chunk holds at least one element")
        return stride(from: startIndex, to: endIndex, by: size).map { self[$0..<Swift.min($0 + size, endIndex)] }
    }
}

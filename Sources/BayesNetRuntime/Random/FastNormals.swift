import CKernels

extension RandomStream {
    /// Elements `offset ..< offset + count` of the N(0, 1) sequence from the C loop: exactly the values of
    /// `writeNormal`, several times faster (variational layers draw one normal per weight per step). Every
    /// single-precision `fillNormal` comes here.
    @usableFromInline
    func writeNormalFast(_ p: UnsafeMutablePointer<Float>, count: Int, offset: Int) {
        guard count > 0 else { return }
        bn_fill_normal_f32(RandomStream.key(generator(.normal)), RandomStream.key(generator(.normalFallback)), step,
                           offset, count, p)
    }

    /// Elements `offset ..< offset + count` of the ±1 sequence from the C loop: exactly the values of
    /// `writeSigns` (a Flipout layer draws batch × channels signs per step, a dense one batch × inputs).
    @usableFromInline
    func writeSignsFast(_ p: UnsafeMutablePointer<Float>, count: Int, offset: Int) {
        guard count > 0 else { return }
        bn_fill_signs_f32(RandomStream.key(generator(.signs)), step, offset, count, p)
    }

    static func key(_ g: Philox4x32) -> UInt64 { UInt64(g.key.0) | UInt64(g.key.1) << 32 }
}

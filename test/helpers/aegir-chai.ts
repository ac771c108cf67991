// A tiny stand-in for `aegir/chai`, so interface-blockstore-tests (written for mocha) runs under vitest.
import chai from 'chai'
import chaiAsPromised from 'chai-as-promised'
import chaiParentheses from 'chai-parentheses'

chai.use(chaiAsPromised)
chai.use(chaiParentheses)

export const expect = chai.expect
export const assert = chai.assert
export { chai }

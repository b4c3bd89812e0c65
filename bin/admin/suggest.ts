/** "Did you mean …?" for a mistyped command, group or option (shared with the CDK app's context keys). */
export { closest, didYouMean, editDistance } from '../../contract/suggest';

import { App } from 'aws-cdk-lib';
import { addTokenService } from '../lib/app';
import { TokenServiceSettingsError } from '../lib/settings';

// The CLI synthesizes the app when this process is about to exit.
const app = new App();
try {
  addTokenService(app);
} catch (error) {
  // A settings mistake is the operator's to fix: say what is wrong, without a stack trace.
  if (!(error instanceof TokenServiceSettingsError)) throw error;
  console.error(error.message);
  process.exit(1);
}

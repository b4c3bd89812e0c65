#!/usr/bin/env node
// The package.json "bin" target for `npx ropc-admin`: runs the TypeScript entry through tsx's loader
// (a devDependency), so no build step is needed. `npm run admin` runs bin/ropc-admin.ts with tsx directly.
import { tsImport } from 'tsx/esm/api';

await tsImport('./ropc-admin.ts', import.meta.url);

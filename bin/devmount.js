#!/usr/bin/env node
// Launcher: the TypeScript sources are compiled to dist/ by `npm install` (the `prepare` script).
import '../dist/cli/main.js';

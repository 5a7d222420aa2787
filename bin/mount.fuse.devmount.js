#!/usr/bin/env node
// mount(8) helper for fstab lines of type fuse.devmount: link it as /sbin/mount.fuse.devmount (README).
import { runMountHelper } from '../dist/cli/mount-helper.js';

process.exitCode = await runMountHelper(process.argv.slice(2));

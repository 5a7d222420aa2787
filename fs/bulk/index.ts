export { listTree, type ListTreeOptions } from './list-tree.js';
export { WorkQueue } from './work-queue.js';
export type { EntryType, ListMethod, ListProblem, RemoteShell, TreeEntry, TreeListing, TreeSource } from './types.js';

/**
 * Hand-over of user-picked local files from the start page to the viewer route. File objects cannot go in a
 * URL, so they wait here under a token that the URL carries (`/viewer?local=<token>`); after a page reload they
 * are gone and the viewer says so.
 */
const pending = new Map<string, File[]>();
let n = 0;

export function stashLocalFiles(files: File[]): string {
  n += 1;
  const token = `f${n}`;
  pending.set(token, files);
  return token;
}

export function takeLocalFiles(token: string): File[] | undefined {
  return pending.get(token);
}

/** Files of a drop event, folders included (recursively, through the File System entries API). */
export async function filesFromDataTransfer(dt: DataTransfer): Promise<File[]> {
  const entries = [...dt.items]
    .map((it) => (typeof it.webkitGetAsEntry === 'function' ? it.webkitGetAsEntry() : null))
    .filter((e): e is FileSystemEntry => !!e);
  if (entries.length === 0) return [...dt.files];
  const out: File[] = [];
  const walk = async (e: FileSystemEntry): Promise<void> => {
    if (e.isFile) {
      out.push(await new Promise<File>((res, rej) => (e as FileSystemFileEntry).file(res, rej)));
    } else if (e.isDirectory) {
      const reader = (e as FileSystemDirectoryEntry).createReader();
      for (;;) {
        const batch = await new Promise<FileSystemEntry[]>((res, rej) => reader.readEntries(res, rej));
        if (batch.length === 0) break;
        for (const c of batch) await walk(c);
      }
    }
  };
  for (const e of entries) await walk(e);
  return out;
}

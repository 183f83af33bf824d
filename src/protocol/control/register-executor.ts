/**
 * RegisterExecutor (executor → Worker), method 15: external shuffle service
 * mode. The executor tells the worker where it writes its map outputs; the
 * worker keeps this registration across restarts until ApplicationRemoved.
 * Registering again replaces the earlier registration.
 *
 *   request  := appId:string execId:string localDirs:string[] subDirsPerLocalDir:u32 shuffleManager:string
 *   response := empty
 *
 * A map output's files live at <localDirs[h % n]>/<(h / n) % subDirsPerLocalDir as 2+ hex digits>/<name>,
 * h being the non-negative Java String.hashCode of the file name (docs/ess.md).
 */
import { str, strArray, struct, u32 } from '../codec.js';
import { empty } from './common.js';
import { defineRpc } from './define.js';

export const RegisterExecutor = defineRpc(
  15,
  'RegisterExecutor',
  struct({ appId: str, execId: str, localDirs: strArray, subDirsPerLocalDir: u32, shuffleManager: str }),
  empty,
);

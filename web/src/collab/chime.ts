import { type ApiClient, messageOf, unwrap } from "../lib/http.ts";
import { Store } from "../lib/store.ts";
import { notify } from "../ui/notices.tsx";

/**
 * The optional chime when something needs you (a permission request, a zone asking you): off by
 * default, per person, kept on the edge (`/api/me/settings`) so every browser they sign in on
 * agrees; their other tabs follow a change live (the inbox). A short two-note tone made with
 * WebAudio, no file to load.
 */
export const chimeOn = new Store(false);

/** What the edge says, at sign-in and on every inbox (re)connect. */
export async function readChime(api: ApiClient): Promise<void> {
  chimeOn.set((await unwrap(api.api.me.settings.$get())).chime);
}

/** Turn it on or off for me everywhere; on, it plays once so I hear what I chose. */
export async function setChime(api: ApiClient, on: boolean): Promise<void> {
  const before = chimeOn.get();
  chimeOn.set(on);
  if (on) playChime();
  try {
    chimeOn.set((await unwrap(api.api.me.settings.$patch({ json: { chime: on } }))).chime);
  } catch (err) {
    chimeOn.set(before);
    notify(`Could not save the chime setting: ${messageOf(err)}`, "error");
  }
}

let ctx: AudioContext | null = null;

export function playChime(): void {
  if (!chimeOn.get() || typeof AudioContext === "undefined") return;
  try {
    ctx ??= new AudioContext();
    const t = ctx.currentTime;
    for (const [i, freq] of [880, 1318.5].entries()) {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.type = "sine";
      osc.frequency.value = freq;
      const start = t + i * 0.12;
      gain.gain.setValueAtTime(0.0001, start);
      gain.gain.exponentialRampToValueAtTime(0.15, start + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, start + 0.35);
      osc.connect(gain).connect(ctx.destination);
      osc.start(start);
      osc.stop(start + 0.4);
    }
  } catch {
    // A browser that refuses audio (no user gesture yet) just stays quiet.
  }
}

import { Store } from "../lib/store.ts";

/**
 * The optional chime when something needs you (a permission request, a zone asking you): off by
 * default, per person on this browser. A short two-note tone made with WebAudio, no file to load.
 */
const KEY = "trellis.chime";

function readSetting(): boolean {
  try {
    return localStorage.getItem(KEY) === "on";
  } catch {
    return false;
  }
}

export const chimeOn = new Store(readSetting());

export function setChime(on: boolean): void {
  try {
    localStorage.setItem(KEY, on ? "on" : "off");
  } catch {}
  chimeOn.set(on);
  if (on) playChime();
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

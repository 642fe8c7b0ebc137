/** `n` distinct words `<word>0 <word>1 …`: long answers whose every prefix is recognisable in tests. */
export function words(n: number, word: string): string {
  return Array.from({ length: n }, (_, i) => `${word}${i}`).join(' ');
}

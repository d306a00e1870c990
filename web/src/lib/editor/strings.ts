// The editor's strings, under "editor", join the app's dictionaries when the editor first loads
// (importing this module waits for them); neither the feed route nor /create's first screen
// carries them.
import { addStrings } from "../i18n/index.svelte";

const en = {
  title: "Edit", loading: "Loading the video…", preview: "Preview", play: "Play preview", pause: "Pause preview",
  next: "Next", back: "Back", save: "Save edits", saving: "Saving…", cancel: "Cancel",
  saved: "Edits saved: the clip is being processed again.",
  trim: {
    label: "Trim", strip: "Filmstrip", start: "Start of the clip", end: "End of the clip",
    summary: "{{start}} s to {{end}} s, {{length}} s after speed",
  },
  cover: { label: "Cover", slider: "Cover frame time", hint: "The frame shown before the clip plays.", at: "At {{time}} s" },
  text: {
    label: "Text", add: "Add text", placeholder: "Your text", defaultText: "Your text", field: "Text {{number}}",
    remove: "Remove text {{number}}", select: "Text {{number}}: {{text}}", size: "Size", color: "Colour",
    colorName: "Colour {{color}}", box: "Dark box behind the text", start: "Shows from (s)", end: "Until (s)",
    dragHint: "Drag a text on the preview to place it, or select it and use the arrow keys.",
    limit: "At most {{count}} texts.",
  },
  sound: {
    label: "Sound", none: "No added sound", previewOf: "Listen to {{title}}", stop: "Stop {{title}}",
    balance: "Balance (original ← → added sound)", mode: "Use the added sound", mix: "Mixed with the original",
    replace: "Instead of the original", duration: "{{seconds}} s", empty: "The sound library is not ready yet.",
  },
  speed: { label: "Speed", value: "{{speed}}×" },
  problem: "The edits could not be saved: {{reason}}",
  unreadable: "This browser cannot show this video, so it cannot be edited here. You can still post it as it is.",
};

const fr: typeof en = {
  title: "Montage", loading: "Chargement de la vidéo…", preview: "Aperçu", play: "Lire l’aperçu", pause: "Mettre l’aperçu en pause",
  next: "Suivant", back: "Retour", save: "Enregistrer le montage", saving: "Enregistrement…", cancel: "Annuler",
  saved: "Montage enregistré : le clip est de nouveau en traitement.",
  trim: {
    label: "Découpe", strip: "Pellicule", start: "Début du clip", end: "Fin du clip",
    summary: "De {{start}} s à {{end}} s, {{length}} s après la vitesse",
  },
  cover: { label: "Couverture", slider: "Moment de l’image de couverture", hint: "L’image montrée avant la lecture.", at: "À {{time}} s" },
  text: {
    label: "Texte", add: "Ajouter un texte", placeholder: "Votre texte", defaultText: "Votre texte", field: "Texte {{number}}",
    remove: "Supprimer le texte {{number}}", select: "Texte {{number}} : {{text}}", size: "Taille", color: "Couleur",
    colorName: "Couleur {{color}}", box: "Fond sombre derrière le texte", start: "Affiché dès (s)", end: "Jusqu’à (s)",
    dragHint: "Faites glisser un texte sur l’aperçu pour le placer, ou sélectionnez-le et utilisez les flèches.",
    limit: "{{count}} textes au plus.",
  },
  sound: {
    label: "Son", none: "Aucun son ajouté", previewOf: "Écouter {{title}}", stop: "Arrêter {{title}}",
    balance: "Équilibre (original ← → son ajouté)", mode: "Utiliser le son ajouté", mix: "Mélangé à l’original",
    replace: "À la place de l’original", duration: "{{seconds}} s", empty: "La bibliothèque de sons n’est pas encore prête.",
  },
  speed: { label: "Vitesse", value: "{{speed}}×" },
  problem: "Le montage n’a pas pu être enregistré : {{reason}}",
  unreadable: "Ce navigateur ne peut pas afficher cette vidéo : elle ne peut pas être montée ici. Vous pouvez la publier telle quelle.",
};

await addStrings({ en: async () => ({ editor: en }), fr: async () => ({ editor: fr }) });
